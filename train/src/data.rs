//! Readers for the datasets in `../shared/data` and for a user's own data, into one
//! shape: identities, each with genuine samples (pictures and/or pen strokes) and
//! optional skilled forgeries.

use anyhow::{bail, Context, Result};
use siamese_wasm::input::preprocess::GrayImage;
use siamese_wasm::input::strokes::{Point, Strokes};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One drawing or photograph. Omniglot gives both the picture and the pen trajectory of
/// each drawing; training then sees either.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Shared, so that the turned and mirrored copies of a character hold no pixels of
    /// their own (see `view`).
    pub image: Option<Arc<GrayImage>>,
    pub strokes: Option<Arc<Strokes>>,
    /// A skilled forgery of this identity (an impostor sample), not a genuine one.
    pub forged: bool,
    /// Where it came from, for messages and for the one-shot runs.
    pub origin: String,
    /// The device it was written on, where the file name says (`ipad-03.png`).
    pub device: Option<String>,
    /// How the picture and strokes are shown: the turned and mirrored training copies of a
    /// character share its pixels instead of holding eight copies of them.
    pub view: View,
}

/// A quarter-turn count, then an optional left-right mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    pub quarters: usize,
    pub mirrored: bool,
}

impl Sample {
    /// The picture as this sample's view shows it.
    pub fn picture(&self) -> Option<Cow<'_, GrayImage>> {
        let img = self.image.as_ref()?;
        Some(match self.view {
            View { quarters: 0, mirrored: false } => Cow::Borrowed(&**img),
            View { quarters, mirrored } => {
                let turned = turn_image(img, quarters);
                Cow::Owned(if mirrored { mirror_image(&turned) } else { turned })
            }
        })
    }

    /// The pen strokes as this sample's view shows them.
    pub fn trajectory(&self) -> Option<Cow<'_, Strokes>> {
        let st = self.strokes.as_ref()?;
        Some(match self.view {
            View { quarters: 0, mirrored: false } => Cow::Borrowed(&**st),
            View { quarters, mirrored } => {
                let turned = turn_strokes(st, quarters);
                Cow::Owned(if mirrored { mirror_strokes(&turned) } else { turned })
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    /// The unit the train/validation split is drawn over: the alphabet for Omniglot
    /// (whole alphabets are held out), the identity itself elsewhere.
    pub split_key: String,
    /// Episodes of the one-shot protocol draw their classes within one group (Omniglot:
    /// the alphabet).
    pub group: String,
    pub samples: Vec<Sample>,
    /// How often batches draw this identity, relative to an identity of weight 1 (turned
    /// copies of a character share its weight: [`with_turned_copies`]).
    pub draw_weight: f64,
}

impl Identity {
    pub fn genuine(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|s| !s.forged)
    }
    pub fn forged(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|s| s.forged)
    }
}

const IMAGE_EXTS: &[&str] = &["png", "pgm", "jpg", "jpeg"];

fn ext_of(p: &Path) -> String {
    p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

pub fn decode_image(bytes: &[u8]) -> Result<GrayImage> {
    let img = image::load_from_memory(bytes)?.into_luma8();
    Ok(GrayImage::from_luma8(img.width() as usize, img.height() as usize, img.as_raw())?)
}

pub fn read_image(path: &Path) -> Result<GrayImage> {
    decode_image(&std::fs::read(path)?).with_context(|| format!("reading {}", path.display()))
}

/// SVC2004 text: first line the point count, then `x y time button azimuth altitude
/// pressure`. `button` 0 is pen up: a new stroke starts at the next pen-down point.
pub fn parse_svc_txt(text: &str) -> Result<Strokes> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let count: usize = lines
        .next()
        .context("empty file")?
        .trim()
        .parse()
        .context("first line is not a point count")?;
    let mut strokes: Strokes = vec![];
    let mut current = vec![];
    let mut seen = 0;
    for line in lines {
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|v| v.parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("bad line {line:?}"))?;
        if f.len() < 3 {
            bail!("line {line:?} has fewer than 3 fields");
        }
        seen += 1;
        // SVC2004 y grows upwards (tablet coordinates): flip it to image rows.
        let p = Point {
            x: f[0] as f32,
            y: -f[1] as f32,
            t: Some(f[2]),
            p: f.get(6).map(|&v| v as f32),
        };
        let pen_down = f.get(3).is_none_or(|&b| b != 0.0);
        if pen_down {
            current.push(p);
        } else if !current.is_empty() {
            strokes.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        strokes.push(current);
    }
    if seen != count {
        bail!("header says {count} points, file has {seen}");
    }
    Ok(strokes)
}

/// Omniglot stroke text: `START`, then `x,y,t` lines, `BREAK` between strokes.
pub fn parse_omniglot_strokes(text: &str) -> Result<Strokes> {
    let mut strokes = vec![];
    let mut current = vec![];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line {
            "START" => {}
            "BREAK" => {
                if !current.is_empty() {
                    strokes.push(std::mem::take(&mut current));
                }
            }
            _ => {
                let f: Vec<f64> = line
                    .split(',')
                    .map(|v| v.trim().parse::<f64>())
                    .collect::<std::result::Result<_, _>>()
                    .with_context(|| format!("bad line {line:?}"))?;
                if f.len() < 2 {
                    bail!("line {line:?} has fewer than 2 fields");
                }
                // Omniglot stores y negated (up is positive): flip back to image rows.
                current.push(Point {
                    x: f[0] as f32,
                    y: -f[1] as f32,
                    t: f.get(2).copied(),
                    p: None,
                });
            }
        }
    }
    if !current.is_empty() {
        strokes.push(current);
    }
    Ok(strokes)
}

/// The device a file name carries: `phone-hand-07.png` -> `phone-hand` (a name of letters
/// and dashes, a dash, a number), as the cross-device signatures are named.
pub fn device_of(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let (device, number) = stem.rsplit_once('-')?;
    let named = !device.is_empty() && device.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
    (named && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()))
        .then(|| device.to_ascii_lowercase())
}

fn read_sample_file(path: &Path, forged: bool) -> Result<Option<Sample>> {
    let ext = ext_of(path);
    let (origin, device) = (path.display().to_string(), device_of(path));
    if IMAGE_EXTS.contains(&ext.as_str()) {
        return Ok(Some(Sample {
            image: Some(Arc::new(read_image(path)?)),
            forged,
            origin,
            device,
            ..Default::default()
        }));
    }
    if ext == "txt" {
        let text = std::fs::read_to_string(path)?;
        let strokes =
            parse_svc_txt(&text).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Some(Sample {
            strokes: Some(Arc::new(strokes)),
            forged,
            origin,
            device,
            ..Default::default()
        }));
    }
    Ok(None)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    v.sort();
    Ok(v)
}

fn read_files(dir: &Path, forged: bool) -> Result<Vec<Sample>> {
    let mut out = vec![];
    for p in sorted_entries(dir)? {
        if p.is_file() {
            if let Some(s) = read_sample_file(&p, forged)? {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// A folder per identity holding images or SVC-format trajectories; a folder with
/// `genuine/` and `forged/` subfolders has skilled forgeries too.
pub fn read_identity_folders(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    let mut ids = vec![];
    for dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let name = format!("{prefix}{}", dir.file_name().unwrap().to_string_lossy());
        let (gen, forg) = (dir.join("genuine"), dir.join("forged"));
        let mut samples =
            if gen.is_dir() { read_files(&gen, false)? } else { read_files(&dir, false)? };
        if forg.is_dir() {
            samples.extend(read_files(&forg, true)?);
        }
        if !samples.is_empty() {
            ids.push(Identity {
                split_key: name.clone(),
                group: prefix.to_string(),
                name,
                samples,
                draw_weight: 1.0,
            });
        }
    }
    Ok(ids)
}

/// Cross-device signatures: a folder per writer holding `<device>-<KK>.png`, where `KK`
/// is the name written (every writer wrote the same names, each on every device). An
/// identity is one writer's signature of one name (`001/07`), its samples one per device;
/// the split key is the writer, so all of a writer's names fall on one side of a split.
/// Other writers' signatures of the same name are the forgery-like impostors: see
/// [`with_same_text_impostors`], applied after the split.
pub fn read_cross_device(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    let mut ids = vec![];
    for dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let writer = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut names: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for p in sorted_entries(&dir)? {
            let Some(device) = device_of(&p) else { continue };
            let Some(sample) = read_sample_file(&p, false)? else { continue };
            let text = p.file_stem().unwrap().to_string_lossy()[device.len() + 1..].to_string();
            names.entry(text).or_default().push(sample);
        }
        for (text, samples) in names {
            let name = format!("{prefix}{writer}/{text}");
            ids.push(Identity {
                name,
                split_key: format!("{prefix}{writer}"),
                group: format!("{prefix}{text}"),
                samples,
                draw_weight: 1.0,
            });
        }
    }
    Ok(ids)
}

/// Other writers of the same text whose samples each identity gets as forgeries
/// ([`with_same_text_impostors`]): enough hard negatives for training's two per identity
/// and for a skilled-forgery figure, while validation embeds 12 impostors an identity
/// instead of every other writer's 4 (about 70).
pub const SAME_TEXT_IMPOSTORS: usize = 3;

/// Each identity of a set where every writer wrote the same texts (cross-device
/// signatures: `group` is the text) also gets, as forgeries, the genuine samples of
/// [`SAME_TEXT_IMPOSTORS`] other identities of its text (the next ones in name order,
/// wrapping round): another person writing the same name, the impostor such data offers.
/// Apply within one side of a split, so no validation writer reaches training.
pub fn with_same_text_impostors(mut ids: Vec<Identity>) -> Vec<Identity> {
    let mut by_text: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        by_text.entry(id.group.clone()).or_default().push(i);
    }
    let genuine: Vec<Vec<Sample>> = ids.iter().map(|i| i.genuine().cloned().collect()).collect();
    for members in by_text.values() {
        for (j, &i) in members.iter().enumerate() {
            let others = (1..members.len())
                .take(SAME_TEXT_IMPOSTORS)
                .map(|o| members[(j + o) % members.len()]);
            let forged: Vec<Sample> = others
                .flat_map(|o| genuine[o].iter().map(|s| Sample { forged: true, ..s.clone() }))
                .collect();
            ids[i].samples.extend(forged);
        }
    }
    ids
}

/// SVC2004: `U{user}S{sample}.TXT`, samples 1-20 genuine, 21-40 skilled forgeries.
pub fn read_svc2004(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    let mut users: BTreeMap<u32, Vec<(u32, Sample)>> = BTreeMap::new();
    for p in sorted_entries(root)? {
        let stem = p.file_stem().unwrap_or_default().to_string_lossy().to_ascii_uppercase();
        let Some((u, s)) = stem.strip_prefix('U').and_then(|r| r.split_once('S')) else { continue };
        let (Ok(u), Ok(s)) = (u.parse::<u32>(), s.parse::<u32>()) else { continue };
        if ext_of(&p) != "txt" {
            continue;
        }
        let strokes = parse_svc_txt(&std::fs::read_to_string(&p)?)
            .with_context(|| format!("reading {}", p.display()))?;
        let sample = Sample {
            strokes: Some(Arc::new(strokes)),
            forged: s > 20,
            origin: p.display().to_string(),
            ..Default::default()
        };
        users.entry(u).or_default().push((s, sample));
    }
    Ok(users
        .into_iter()
        .map(|(u, mut v)| {
            v.sort_by_key(|(s, _)| *s);
            let name = format!("{prefix}U{u}");
            Identity {
                split_key: name.clone(),
                group: prefix.to_string(),
                draw_weight: 1.0,
                name,
                samples: v.into_iter().map(|(_, s)| s).collect(),
            }
        })
        .collect())
}

/// Omniglot as published: `images_background*.zip` and the matching
/// `strokes_background*.zip` in `root`. Characters are identities; each of the 20
/// drawings carries its picture and its strokes. Alphabets present in two zips
/// (Greek, Latin) are read once.
pub fn read_omniglot(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    // (alphabet, character) -> drawing file stem -> sample
    let mut chars: BTreeMap<(String, String), BTreeMap<String, Sample>> = BTreeMap::new();
    let mut zips: Vec<PathBuf> =
        sorted_entries(root)?.into_iter().filter(|p| ext_of(p) == "zip").collect();
    // Images first, so strokes attach to existing samples.
    zips.sort_by_key(|p| !p.file_name().unwrap().to_string_lossy().starts_with("images"));
    for zip_path in zips {
        let is_strokes = zip_path.file_name().unwrap().to_string_lossy().starts_with("strokes");
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path)?)
            .with_context(|| format!("opening {}", zip_path.display()))?;
        for i in 0..archive.len() {
            let mut f = archive.by_index(i)?;
            let path = f.name().to_string();
            if path.starts_with("__MACOSX") || f.is_dir() {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            if parts.len() != 4 {
                continue;
            }
            let (alphabet, character, file) =
                (parts[1].to_string(), parts[2].to_string(), parts[3]);
            let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file).to_string();
            let ext =
                file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            let mut bytes = vec![];
            f.read_to_end(&mut bytes)?;
            let entry = chars.entry((alphabet, character)).or_default();
            if !is_strokes && ext == "png" {
                let img = decode_image(&bytes)
                    .with_context(|| format!("{path} in {}", zip_path.display()))?;
                entry.entry(stem).or_insert(Sample {
                    image: Some(Arc::new(img)),
                    origin: path.clone(),
                    ..Default::default()
                });
            } else if is_strokes && ext == "txt" {
                let strokes = parse_omniglot_strokes(&String::from_utf8_lossy(&bytes))
                    .with_context(|| format!("{path} in {}", zip_path.display()))?;
                if let Some(s) = entry.get_mut(&stem) {
                    s.strokes.get_or_insert(Arc::new(strokes));
                } else {
                    entry.insert(
                        stem,
                        Sample {
                            strokes: Some(Arc::new(strokes)),
                            origin: path.clone(),
                            ..Default::default()
                        },
                    );
                }
            }
        }
    }
    Ok(chars
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|((alphabet, character), samples)| Identity {
            name: format!("{prefix}{alphabet}/{character}"),
            split_key: format!("{prefix}{alphabet}"),
            group: format!("{prefix}{alphabet}"),
            samples: samples.into_values().collect(),
            draw_weight: 1.0,
        })
        .collect())
}

/// `img` turned by `quarters` quarter turns (clockwise on screen).
pub fn turn_image(img: &GrayImage, quarters: usize) -> GrayImage {
    let (w, h) = (img.width, img.height);
    match quarters % 4 {
        0 => img.clone(),
        2 => GrayImage { width: w, height: h, data: img.data.iter().rev().copied().collect() },
        q => {
            // Output is h wide and w high; output (x, y) reads input at (y, h-1-x) for a
            // clockwise turn, (w-1-y, x) for an anticlockwise one.
            let mut data = vec![0.0; w * h];
            for y in 0..w {
                for x in 0..h {
                    let (sx, sy) = if q == 1 { (y, h - 1 - x) } else { (w - 1 - y, x) };
                    data[y * h + x] = img.data[sy * w + sx];
                }
            }
            GrayImage { width: h, height: w, data }
        }
    }
}

/// `strokes` turned like [`turn_image`] (screen coordinates, y down); times and pressure kept.
pub fn turn_strokes(strokes: &Strokes, quarters: usize) -> Strokes {
    let turn = |p: &Point| {
        let (x, y) = match quarters % 4 {
            0 => (p.x, p.y),
            1 => (-p.y, p.x),
            2 => (-p.x, -p.y),
            _ => (p.y, -p.x),
        };
        Point { x, y, ..*p }
    };
    strokes.iter().map(|s| s.iter().map(turn).collect()).collect()
}

/// `img` mirrored left to right.
pub fn mirror_image(img: &GrayImage) -> GrayImage {
    let data = img.data.chunks(img.width).flat_map(|row| row.iter().rev().copied()).collect();
    GrayImage { width: img.width, height: img.height, data }
}

/// `strokes` mirrored like [`mirror_image`]; times and pressure kept.
pub fn mirror_strokes(strokes: &Strokes) -> Strokes {
    strokes.iter().map(|s| s.iter().map(|p| Point { x: -p.x, ..*p }).collect()).collect()
}

/// Each identity and `n - 1` transformed copies of it, as new identities: copy `i` (1..n)
/// shows its samples through `view(_, i)` and has `label(i)` appended to its names. The
/// `n` share the original's draw weight, so the dataset's share of each batch stays what
/// it was. Forgeries go with their identity.
fn with_copies(
    ids: Vec<Identity>,
    n: usize,
    label: impl Fn(usize) -> String,
    view: impl Fn(View, usize) -> View,
) -> Vec<Identity> {
    let mut out = Vec::with_capacity(ids.len() * n);
    for id in ids {
        let weight = id.draw_weight / n as f64;
        for i in 1..n {
            let named = |s: &str| format!("{s} {}", label(i));
            out.push(Identity {
                name: named(&id.name),
                split_key: id.split_key.clone(),
                group: named(&id.group),
                samples: id
                    .samples
                    .iter()
                    .map(|s| Sample {
                        view: view(s.view, i),
                        origin: named(&s.origin),
                        ..s.clone()
                    })
                    .collect(),
                draw_weight: weight,
            });
        }
        out.push(Identity { draw_weight: weight, ..id });
    }
    out
}

/// Each identity, and the same identity turned by one, two and three quarter turns as three
/// new identities (a character turned on its side is another character: the standard way
/// to multiply Omniglot's classes), sharing its draw weight. Only for training sets:
/// validation keeps the pictures as drawn.
pub fn with_turned_copies(ids: Vec<Identity>) -> Vec<Identity> {
    with_copies(
        ids,
        4,
        |q| format!("turned {}", 90 * q),
        |v, q| View { quarters: (v.quarters + q) % 4, ..v },
    )
}

/// Each identity, and its mirror image as a new identity (a character written mirrored is
/// another character), sharing its draw weight. After [`with_turned_copies`] this gives
/// all eight turns and reflections. Only for training sets.
pub fn with_mirrored_copies(ids: Vec<Identity>) -> Vec<Identity> {
    with_copies(ids, 2, |_| "mirrored".into(), |v, _| View { mirrored: !v.mirrored, ..v })
}

/// One trial of Omniglot's one-shot runs layout: a query and the candidates, one of
/// which is its class.
#[derive(Debug, Clone)]
pub struct OneShotRun {
    /// Training (support) images of the run, one per class, and their paths.
    pub support: Vec<(String, GrayImage)>,
    /// (query image, index into `support` of its true class)
    pub queries: Vec<(GrayImage, usize)>,
}

/// `runNN/class_labels.txt`: lines `runNN/test/itemXX.png runNN/training/classYY.png`,
/// paths relative to `root`. All `runNN/training/` images are candidates.
pub fn read_oneshot_runs(root: &Path) -> Result<Vec<OneShotRun>> {
    let mut runs = vec![];
    for dir in sorted_entries(root)?.into_iter().filter(|p| p.join("class_labels.txt").is_file()) {
        let mut support: Vec<(String, GrayImage)> = vec![];
        for p in sorted_entries(&dir.join("training"))? {
            if IMAGE_EXTS.contains(&ext_of(&p).as_str()) {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                support.push((rel, read_image(&p)?));
            }
        }
        let labels = std::fs::read_to_string(dir.join("class_labels.txt"))?;
        let mut queries = vec![];
        for line in labels.lines().filter(|l| !l.trim().is_empty()) {
            let mut it = line.split_whitespace();
            let (Some(test), Some(train)) = (it.next(), it.next()) else {
                bail!("bad class_labels line {line:?}")
            };
            let idx = support
                .iter()
                .position(|(p, _)| p == train)
                .with_context(|| format!("{train} is not in {}/training", dir.display()))?;
            queries.push((read_image(&root.join(test))?, idx));
        }
        runs.push(OneShotRun { support, queries });
    }
    if runs.is_empty() {
        bail!("no runNN/class_labels.txt under {}", root.display());
    }
    Ok(runs)
}

/// What kind of data a folder holds, by looking at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    OneShotRuns,
    Omniglot,
    Svc2004,
    /// Writer folders whose every file is named `<device>-<KK>`: [`read_cross_device`].
    CrossDevice,
    IdentityFolders,
}

pub fn detect_layout(root: &Path) -> Result<Layout> {
    let entries = sorted_entries(root)?;
    if entries.iter().any(|p| p.join("class_labels.txt").is_file()) {
        return Ok(Layout::OneShotRuns);
    }
    if entries.iter().any(|p| {
        ext_of(p) == "zip" && p.file_name().unwrap().to_string_lossy().contains("background")
    }) {
        return Ok(Layout::Omniglot);
    }
    if entries.iter().any(|p| {
        let n = p.file_name().unwrap().to_string_lossy().to_ascii_uppercase();
        n.starts_with('U') && n.contains('S') && n.ends_with(".TXT")
    }) {
        return Ok(Layout::Svc2004);
    }
    let dirs: Vec<&PathBuf> = entries.iter().filter(|p| p.is_dir()).collect();
    if !dirs.is_empty() {
        let files: Vec<PathBuf> = dirs
            .iter()
            .map(|d| sorted_entries(d))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .filter(|p| p.is_file())
            .collect();
        if !files.is_empty() && files.iter().all(|p| device_of(p).is_some()) {
            return Ok(Layout::CrossDevice);
        }
        return Ok(Layout::IdentityFolders);
    }
    bail!("{}: no identities found (expected identity folders, SVC2004 files, Omniglot zips or one-shot runs)", root.display())
}

/// Identities of any layout but the one-shot runs.
pub fn read_identities(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    match detect_layout(root)? {
        Layout::Omniglot => read_omniglot(root, prefix),
        Layout::Svc2004 => read_svc2004(root, prefix),
        Layout::IdentityFolders => read_identity_folders(root, prefix),
        Layout::CrossDevice => read_cross_device(root, prefix),
        Layout::OneShotRuns => {
            bail!("{} holds one-shot runs: use --protocol oneshot", root.display())
        }
    }
}

/// `root`'s identities, passed through `keep` (e.g. dropping unusable samples), split
/// into (train, validation) as [`split_by_identity`] does, each side then given what its
/// layout adds within a side (cross-device: same-text impostors).
pub fn read_split(
    root: &Path,
    prefix: &str,
    val_fraction: f64,
    seed: u64,
    keep: impl FnOnce(Vec<Identity>) -> Vec<Identity>,
) -> Result<(Vec<Identity>, Vec<Identity>)> {
    let (t, v) = split_by_identity(keep(read_identities(root, prefix)?), val_fraction, seed);
    Ok(if detect_layout(root)? == Layout::CrossDevice {
        (with_same_text_impostors(t), with_same_text_impostors(v))
    } else {
        (t, v)
    })
}

/// All of `root`'s identities, with what its layout adds (cross-device: same-text
/// impostors), for evaluating data held out as a whole.
pub fn read_all(root: &Path, prefix: &str) -> Result<Vec<Identity>> {
    let ids = read_identities(root, prefix)?;
    Ok(if detect_layout(root)? == Layout::CrossDevice {
        with_same_text_impostors(ids)
    } else {
        ids
    })
}

/// Splits identities into (train, validation) by identity, never both: the distinct
/// `split_key`s are ordered by a seeded hash and the first `val_fraction` of them (at
/// least one) are held out.
pub fn split_by_identity(
    ids: Vec<Identity>,
    val_fraction: f64,
    seed: u64,
) -> (Vec<Identity>, Vec<Identity>) {
    let mut keys: Vec<String> = ids.iter().map(|i| i.split_key.clone()).collect();
    keys.sort();
    keys.dedup();
    keys.sort_by_key(|k| seeded_hash(k, seed));
    let n_val = ((keys.len() as f64 * val_fraction).round() as usize)
        .clamp(1, keys.len().saturating_sub(1).max(1));
    let val: std::collections::HashSet<&String> = keys[..n_val].iter().collect();
    let (v, t): (Vec<Identity>, Vec<Identity>) =
        ids.into_iter().partition(|i| val.contains(&i.split_key));
    (t, v)
}

/// FNV-1a of the seed and the key: stable across platforms and Rust versions, unlike
/// the standard library's hasher.
pub fn seeded_hash(key: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325 ^ seed.wrapping_mul(0x9E3779B97F4A7C15);
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The data folder's own location if given, else `../shared/data` next to the project.
pub fn shared_data_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SIAMESE_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    p.is_dir().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siamese_wasm::input::preprocess::image_to_input;
    use siamese_wasm::input::strokes::{render, strokes_to_input};
    use siamese_wasm::runtime::metadata::Preprocess;
    use siamese_wasm::verify::metrics::cosine;

    #[test]
    fn a_quarter_turn_is_clockwise_and_four_are_none() {
        // 3 wide, 2 high:  a b c / d e f  turned clockwise is  d a / e b / f c.
        let img = GrayImage::new(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let once = turn_image(&img, 1);
        assert_eq!(
            (once.width, once.height, once.data.clone()),
            (2, 3, vec![4.0, 1.0, 5.0, 2.0, 6.0, 3.0])
        );
        assert_eq!(turn_image(&img, 2).data, vec![6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        assert_eq!(turn_image(&turn_image(&img, 1), 3), img);
        assert_eq!(turn_image(&turn_image(&turn_image(&once, 1), 1), 1), img);
    }

    #[test]
    fn turned_strokes_draw_the_turned_picture() {
        // An "L" with a long foot: turning must move the foot the same way in both forms.
        let strokes = vec![
            vec![Point::new(0.0, 0.0), Point::new(0.0, 40.0), Point::new(25.0, 40.0)],
            vec![Point::new(10.0, 10.0), Point::new(14.0, 12.0)],
        ];
        let cfg = Preprocess::ink(64, 64);
        for q in 0..4 {
            let from_strokes = strokes_to_input(&turn_strokes(&strokes, q), &cfg).unwrap();
            let from_picture = image_to_input(
                &turn_image(&render(&strokes, &cfg, cfg.stroke_width).unwrap(), q),
                &cfg,
            )
            .unwrap();
            let cos = cosine(&from_strokes, &from_picture);
            assert!(cos > 0.8, "{q} quarter turns: strokes and picture disagree (cosine {cos})");
        }
    }

    #[test]
    fn turned_copies_are_new_identities_sharing_the_weight() {
        let sample = |forged| Sample {
            image: Some(Arc::new(GrayImage::new(3, 2, vec![0.0; 6]).unwrap())),
            strokes: Some(Arc::new(vec![vec![Point::new(1.0, 2.0)]])),
            forged,
            origin: "o".into(),
            ..Default::default()
        };
        let id = Identity {
            name: "omniglot/Greek/c1".into(),
            split_key: "omniglot/Greek".into(),
            group: "omniglot/Greek".into(),
            samples: vec![sample(false), sample(true)],
            draw_weight: 1.0,
        };
        let out = with_turned_copies(vec![id]);
        assert_eq!(out.len(), 4);
        let names: std::collections::HashSet<_> = out.iter().map(|i| i.name.clone()).collect();
        assert_eq!(names.len(), 4);
        assert!(out.iter().all(|i| i.split_key == "omniglot/Greek"
            && i.samples.len() == 2
            && i.samples[1].forged));
        assert!((out.iter().map(|i| i.draw_weight).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(out[0].samples[0].picture().unwrap().width, 2);
        assert_eq!(
            out[0].samples[0].trajectory().unwrap()[0][0],
            Point { x: -2.0, y: 1.0, t: None, p: None }
        );
        // The copies share the original's pixels; only their view differs.
        assert!(Arc::ptr_eq(
            out[0].samples[0].image.as_ref().unwrap(),
            out[3].samples[0].image.as_ref().unwrap()
        ));
        assert_eq!(out[3].samples[0].view, View::default());
    }

    #[test]
    fn mirrored_copies_flip_pictures_and_strokes_alike() {
        let img = GrayImage::new(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(mirror_image(&img).data, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        assert_eq!(mirror_image(&mirror_image(&img)), img);
        // The "L" again: mirrored from its strokes and mirrored as a picture must agree.
        let strokes =
            vec![vec![Point::new(0.0, 0.0), Point::new(0.0, 40.0), Point::new(25.0, 40.0)]];
        let cfg = Preprocess::ink(64, 64);
        let from_strokes = strokes_to_input(&mirror_strokes(&strokes), &cfg).unwrap();
        let from_picture =
            image_to_input(&mirror_image(&render(&strokes, &cfg, cfg.stroke_width).unwrap()), &cfg)
                .unwrap();
        let plain = strokes_to_input(&strokes, &cfg).unwrap();
        assert!(
            cosine(&from_strokes, &from_picture) > 0.8,
            "mirrored strokes and picture disagree"
        );
        assert!(
            cosine(&from_strokes, &plain) < cosine(&from_strokes, &from_picture),
            "mirroring changed nothing"
        );

        let id = Identity {
            name: "omniglot/Greek/c1".into(),
            split_key: "omniglot/Greek".into(),
            group: "omniglot/Greek".into(),
            samples: vec![Sample {
                image: Some(Arc::new(img.clone())),
                strokes: Some(Arc::new(strokes.clone())),
                origin: "o".into(),
                ..Default::default()
            }],
            draw_weight: 1.0,
        };
        let out = with_mirrored_copies(with_turned_copies(vec![id]));
        // Turned by a quarter, then mirrored: the view applies both, in that order.
        assert_eq!(*out[0].samples[0].picture().unwrap(), mirror_image(&turn_image(&img, 1)));
        assert_eq!(
            *out[0].samples[0].trajectory().unwrap(),
            mirror_strokes(&turn_strokes(&strokes, 1))
        );
        assert_eq!(out.len(), 8);
        assert_eq!(
            out.iter().map(|i| i.name.clone()).collect::<std::collections::HashSet<_>>().len(),
            8
        );
        assert!(out
            .iter()
            .all(|i| (i.draw_weight - 0.125).abs() < 1e-12 && i.split_key == "omniglot/Greek"));
        assert_eq!(out[0].name, "omniglot/Greek/c1 turned 90 mirrored");
    }
}
