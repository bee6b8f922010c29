//! The encoder network: one set of weights applied to every member of a pair or triplet.
//! A small VGG-style CNN sized for the browser: conv3x3 + batch norm + ReLU + 2x2 max
//! pool blocks, a linear projection with batch norm, L2 normalisation.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    pub height: usize,
    pub width: usize,
    /// Output channels of each block; each block halves the resolution.
    pub channels: Vec<usize>,
    pub embedding_dim: usize,
}

impl EncoderConfig {
    /// Spatial size after all blocks.
    pub fn final_hw(&self) -> (usize, usize) {
        let n = self.channels.len() as u32;
        (self.height >> n, self.width >> n)
    }
    pub fn flat_features(&self) -> usize {
        let (h, w) = self.final_hw();
        self.channels.last().unwrap() * h * w
    }
    /// Multiply-accumulates of one embedding, and FLOPs (2 per MAC).
    pub fn macs(&self) -> u64 {
        let (mut h, mut w, mut cin) = (self.height as u64, self.width as u64, 1u64);
        let mut macs = 0u64;
        for &c in &self.channels {
            macs += h * w * cin * c as u64 * 9;
            h /= 2;
            w /= 2;
            cin = c as u64;
        }
        macs + self.flat_features() as u64 * self.embedding_dim as u64
    }
    pub fn flops(&self) -> u64 {
        2 * self.macs()
    }
}

#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    pub pool: MaxPool2d,
}

impl ConvBlock {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        ConvBlock {
            conv: Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool.forward(burn::tensor::activation::relu(self.bn.forward(self.conv.forward(x))))
    }
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub blocks: Vec<ConvBlock>,
    pub head: Linear,
    /// Batch norm on the projection ("BNNeck"): centres the embeddings before they are
    /// normalised, so they do not all start in one direction and collapse together.
    pub neck: BatchNorm,
}

impl Encoder {
    pub fn new(cfg: &EncoderConfig, device: &Device) -> Self {
        let mut blocks = vec![];
        let mut cin = 1;
        for &c in &cfg.channels {
            blocks.push(ConvBlock::new(cin, c, device));
            cin = c;
        }
        Encoder {
            blocks,
            head: LinearConfig::new(cfg.flat_features(), cfg.embedding_dim).init(device),
            neck: BatchNormConfig::new(cfg.embedding_dim).init(device),
        }
    }

    /// `[batch, 1, height, width]` -> L2-normalised `[batch, embedding_dim]`.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        for b in &self.blocks {
            x = b.forward(x);
        }
        let e = self.neck.forward(self.head.forward(x.flatten::<2>(1, 3)));
        l2_normalize(e)
    }
}

pub fn l2_normalize(e: Tensor<2>) -> Tensor<2> {
    let norm = e.clone().powf_scalar(2.0).sum_dim(1).add_scalar(1e-12).sqrt();
    e / norm
}
