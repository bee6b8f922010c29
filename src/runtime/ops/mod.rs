//! tract operators of our own, put in place of tract's in the imported graph: the
//! projection (`dense`), the final L2 normalisation and the 2x2 max pool.

pub mod dense;
pub mod l2_norm;
pub mod max_pool;
