//! How a signature was written, not only what it looks like: pen trajectories compared by
//! dynamic time warping (DTW).
//!
//! A skilled forger copies the shape of a signature, which is all the image encoder sees;
//! copying the order, direction and rhythm of the strokes is much harder. Online
//! signatures (a signature pad, a tablet) carry that, so for them the library also
//! compares the trajectories themselves. This is the classical method of online
//! signature verification (the SVC2004 winners used DTW on position derivatives); it is
//! written here because it is a few dozen lines of arithmetic on our own point type and
//! no maintained crate does the feature extraction it needs.

use crate::error::{Error, ErrorCode, Result};
use crate::input::strokes::Point;

/// Features per trajectory point: position (x, y), its rate of change (dx, dy) and pen
/// pressure, each normalised for the signature's placement, size and pen.
pub const FEATURES: usize = 5;

/// The time step pen samples are resampled to, in milliseconds. Pads and browsers report
/// points at uneven times; resampling gives every signature the same clock, so the
/// derivatives measure speed.
const STEP_MS: f64 = 10.0;

/// Fewer points than this (after resampling) is not a trajectory. Kept low on purpose: a
/// quick scribble still gets compared (and is simply far from a real signature) rather
/// than refused.
const MIN_POINTS: usize = 2;

/// Longest trajectory kept, in points: 40 s of writing at [`STEP_MS`]. Longer inputs are
/// decimated, which bounds the DTW cost (quadratic in length).
const MAX_POINTS: usize = 4000;

/// How much each feature counts in the point-to-point distance, how far the alignment may
/// stray from the diagonal, and how much a difference in writing time counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub position: f32,
    pub velocity: f32,
    pub pressure: f32,
    /// Sakoe-Chiba band half-width as a fraction of the longer trajectory.
    pub band: f32,
    /// Weight of the tempo term, `|ln(duration_a / duration_b)|`, added to the per-point
    /// distance. The features are normalised per signature (speed included), so without
    /// it a forgery written at half the speed costs only the warping; forgers are slow.
    pub tempo: f32,
}

pub const DEFAULT_PARAMS: Params =
    Params { position: 1.0, velocity: 3.0, pressure: 1.0, band: 0.25, tempo: 0.75 };

/// The largest [`template_distance`] that still counts as the same writer's motion: the
/// skilled-forgery equal-error point of pairwise DTW distances over all 40 SVC2004
/// writers in the shared data (`siamese-train eval --dynamics --split all`, field
/// `skilled_eer_threshold`; see models/README.md). DTW learns nothing from data: this one
/// number is all that is fitted. The weights in [`DEFAULT_PARAMS`] were chosen on the 30
/// training writers.
pub const THRESHOLD: f32 = 1.229;

/// A signature's trajectory, ready to compare: [`FEATURES`] values per point.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub points: Vec<[f32; FEATURES]>,
    /// Pen-down writing time in [`STEP_MS`] steps (resampled points before any
    /// decimation): pen lifts do not count.
    pub duration: f32,
}

/// Resamples one pen-down stroke to [`STEP_MS`] by linear interpolation in time. Without
/// times (or with times that do not increase) the points are kept as they are.
fn resample(stroke: &[Point]) -> Vec<(f32, f32, f32)> {
    let timed = stroke.len() >= 2 && stroke.iter().all(|p| p.t.is_some_and(f64::is_finite));
    let span = if timed { stroke[stroke.len() - 1].t.unwrap() - stroke[0].t.unwrap() } else { 0.0 };
    if !timed || span <= 0.0 || stroke.windows(2).any(|w| w[1].t.unwrap() < w[0].t.unwrap()) {
        return stroke.iter().map(|p| (p.x, p.y, p.p.unwrap_or(f32::NAN))).collect();
    }
    let t0 = stroke[0].t.unwrap();
    let n = (span / STEP_MS).floor() as usize + 1;
    let mut out = Vec::with_capacity(n);
    let mut j = 0;
    for i in 0..n {
        let t = t0 + i as f64 * STEP_MS;
        while j + 2 < stroke.len() && stroke[j + 1].t.unwrap() < t {
            j += 1;
        }
        let (a, b) = (&stroke[j], &stroke[j + 1]);
        let (ta, tb) = (a.t.unwrap(), b.t.unwrap());
        let u = if tb > ta { ((t - ta) / (tb - ta)).clamp(0.0, 1.0) as f32 } else { 0.0 };
        let (pa, pb) = (a.p.unwrap_or(f32::NAN), b.p.unwrap_or(f32::NAN));
        out.push((a.x + u * (b.x - a.x), a.y + u * (b.y - a.y), pa + u * (pb - pa)));
    }
    // The stroke's end, when the clock stopped short of it: a quick stroke keeps both ends.
    if t0 + (n - 1) as f64 * STEP_MS < stroke[stroke.len() - 1].t.unwrap() {
        let e = &stroke[stroke.len() - 1];
        out.push((e.x, e.y, e.p.unwrap_or(f32::NAN)));
    }
    out
}

impl Trajectory {
    /// Features of a drawing: the pen-down strokes in the order they were drawn,
    /// resampled in time, centred on their mean, and scaled by their spread.
    pub fn from_strokes(strokes: &[Vec<Point>]) -> Result<Self> {
        let mut xy: Vec<(f32, f32, f32)> = vec![];
        let mut starts = vec![];
        for s in strokes.iter().filter(|s| !s.is_empty()) {
            starts.push(xy.len());
            xy.extend(resample(s));
        }
        let duration = xy.len() as f32;
        if xy.iter().any(|(x, y, _)| !x.is_finite() || !y.is_finite()) {
            return Err(Error::new(
                ErrorCode::NotFinite,
                "strokes contain a point that is not a finite number",
            ));
        }
        if xy.len() > MAX_POINTS {
            let stride = xy.len().div_ceil(MAX_POINTS);
            // Kept points are every stride-th; a stroke now starts at its first kept point.
            starts = starts.iter().map(|s| s.div_ceil(stride)).collect();
            xy = xy.into_iter().step_by(stride).collect();
        }
        if xy.len() < MIN_POINTS {
            return Err(Error::new(
                ErrorCode::NoInk,
                format!("a trajectory needs at least {MIN_POINTS} pen samples, got {}", xy.len()),
            ));
        }
        let n = xy.len() as f32;
        let (mx, my) = xy.iter().fold((0.0, 0.0), |(a, b), (x, y, _)| (a + x / n, b + y / n));
        let var = xy.iter().map(|(x, y, _)| (x - mx).powi(2) + (y - my).powi(2)).sum::<f32>() / n;
        // Relative to the coordinates' size: rounding leaves a still pen a tiny spread.
        if var.sqrt() <= 1e-5 * (1.0 + mx.abs().max(my.abs())) {
            return Err(Error::new(
                ErrorCode::NoInk,
                "the trajectory does not move: nothing was drawn",
            ));
        }
        let scale = 1.0 / var.sqrt();
        let pos: Vec<(f32, f32)> =
            xy.iter().map(|(x, y, _)| ((x - mx) * scale, (y - my) * scale)).collect();
        // Pressure: z-scored per signature (pens differ in range and bias); zero when
        // the pen does not report it or reports a constant (a mouse says 0.5).
        let pr: Vec<f32> = xy.iter().map(|p| p.2).collect();
        let pressure = if pr.iter().all(|p| p.is_finite()) {
            let m = pr.iter().sum::<f32>() / n;
            let sd = (pr.iter().map(|p| (p - m).powi(2)).sum::<f32>() / n).sqrt();
            if sd > 1e-6 * (1.0 + m.abs()) {
                pr.iter().map(|p| (p - m) / sd).collect()
            } else {
                vec![0.0; pr.len()]
            }
        } else {
            vec![0.0; pr.len()]
        };
        // Derivatives within a stroke only: the jump from one stroke's end to the next
        // one's start is a pen lift, not writing speed. Scaled so that a typical step
        // weighs like a typical position.
        let mut vel = vec![(0.0f32, 0.0f32); pos.len()];
        let mut is_start = vec![false; pos.len()];
        for &s in &starts {
            if s < is_start.len() {
                is_start[s] = true;
            }
        }
        for i in 1..pos.len() {
            if !is_start[i] {
                vel[i] = (pos[i].0 - pos[i - 1].0, pos[i].1 - pos[i - 1].1);
            }
        }
        let vrms = (vel.iter().map(|(a, b)| a * a + b * b).sum::<f32>() / n).sqrt();
        let vscale = if vrms > 0.0 { 1.0 / vrms } else { 0.0 };
        let points = pos
            .iter()
            .zip(&vel)
            .zip(&pressure)
            .map(|((&(x, y), &(dx, dy)), &p)| [x, y, dx * vscale, dy * vscale, p])
            .collect();
        Ok(Trajectory { points, duration })
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

fn cost(a: &[f32; FEATURES], b: &[f32; FEATURES], w: &[f32; FEATURES]) -> f32 {
    a.iter().zip(b).zip(w).map(|((x, y), w)| w * (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// DTW distance between two trajectories: the least total point-to-point distance over
/// monotone alignments of the two, divided by the alignment's length so that long and
/// short signatures are on one scale, plus the tempo term (`Params::tempo`). The
/// alignment may stretch either trajectory (the same signature written slower or faster)
/// but is kept within a band around the diagonal (Sakoe-Chiba, a quarter of the longer
/// length), so that it cannot match the start of one signature with the end of the other.
pub fn dtw(a: &Trajectory, b: &Trajectory) -> f32 {
    dtw_with(a, b, &DEFAULT_PARAMS)
}

/// [`dtw`] with explicit feature weights and band.
pub fn dtw_with(a: &Trajectory, b: &Trajectory, params: &Params) -> f32 {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return f32::INFINITY;
    }
    let w2 = |v: f32| v * v;
    let w = [
        w2(params.position),
        w2(params.position),
        w2(params.velocity),
        w2(params.velocity),
        w2(params.pressure),
    ];
    let band = ((n.max(m) as f32 * params.band) as usize).max(n.abs_diff(m) + 1);
    // Two rows of (total cost, path length); cells outside the band stay infinite.
    let inf = (f32::INFINITY, 0u32);
    let mut prev = vec![inf; m + 1];
    let mut cur = vec![inf; m + 1];
    prev[0] = (0.0, 0);
    for i in 1..=n {
        cur.fill(inf);
        // The band is centred on the diagonal scaled to the two lengths.
        let centre = i * m / n;
        let lo = centre.saturating_sub(band).max(1);
        let hi = (centre + band).min(m);
        for j in lo..=hi {
            let c = cost(&a.points[i - 1], &b.points[j - 1], &w);
            let mut best = prev[j - 1];
            if prev[j].0 < best.0 {
                best = prev[j];
            }
            if cur[j - 1].0 < best.0 {
                best = cur[j - 1];
            }
            cur[j] = (best.0 + c, best.1 + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let (total, steps) = prev[m];
    if steps == 0 {
        f32::INFINITY
    } else {
        total / steps as f32 + params.tempo * (a.duration / b.duration).ln().abs()
    }
}

/// How far `query` moves from an enrolled writer: its mean [`dtw`] distance to each of
/// the enrolled trajectories (the mean, not the minimum, so that one sloppy enrolment
/// does not open the door to forgers).
pub fn template_distance<'a>(
    enrolled: impl IntoIterator<Item = &'a Trajectory>,
    query: &Trajectory,
) -> f32 {
    let (sum, n) = enrolled.into_iter().fold((0.0, 0usize), |(s, n), r| (s + dtw(r, query), n + 1));
    if n == 0 {
        f32::INFINITY
    } else {
        sum / n as f32
    }
}

/// Whether a drawing carries a usable trajectory: pen times on every point.
pub fn is_timed(strokes: &[Vec<Point>]) -> bool {
    strokes.iter().flatten().next().is_some()
        && strokes.iter().flatten().all(|p| p.t.is_some_and(f64::is_finite))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(points: &[(f32, f32)], dt: f64) -> Vec<Point> {
        points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| Point { x, y, t: Some(i as f64 * dt), p: None })
            .collect()
    }

    fn circle(n: usize, r: f32, start: f32) -> Vec<(f32, f32)> {
        (0..n)
            .map(|i| {
                let a = start + i as f32 / n as f32 * std::f32::consts::TAU;
                (r * a.cos(), r * a.sin())
            })
            .collect()
    }

    #[test]
    fn identical_trajectories_are_at_distance_zero_and_placement_does_not_matter() {
        let a = Trajectory::from_strokes(&[timed(&circle(100, 1.0, 0.0), 10.0)]).unwrap();
        let moved: Vec<(f32, f32)> =
            circle(100, 3.0, 0.0).into_iter().map(|(x, y)| (x + 50.0, y - 7.0)).collect();
        let b = Trajectory::from_strokes(&[timed(&moved, 10.0)]).unwrap();
        assert_eq!(dtw(&a, &a), 0.0);
        assert!(dtw(&a, &b) < 1e-4, "{}", dtw(&a, &b));
    }

    #[test]
    fn the_same_shape_drawn_slower_is_close_in_shape_and_pays_for_its_tempo() {
        let a = Trajectory::from_strokes(&[timed(&circle(100, 1.0, 0.0), 10.0)]).unwrap();
        // Same path, 1.5x slower in time: resampling gives 150 points along it.
        let slow = Trajectory::from_strokes(&[timed(&circle(100, 1.0, 0.0), 15.0)]).unwrap();
        assert!(slow.len() > a.len() + 40);
        let mut back = circle(100, 1.0, 0.0);
        back.reverse();
        let backwards = Trajectory::from_strokes(&[timed(&back, 10.0)]).unwrap();
        let shape = Params { tempo: 0.0, ..DEFAULT_PARAMS };
        let (d_slow, d_back) = (dtw_with(&a, &slow, &shape), dtw_with(&a, &backwards, &shape));
        assert!(d_slow < 0.35, "{d_slow}");
        assert!(d_back > 3.0 * d_slow, "slow {d_slow} backwards {d_back}");
        // The writing time counts too: the slow one pays |ln(1.5)| times the tempo weight.
        assert!(
            (slow.duration / a.duration - 1.5).abs() < 0.02,
            "{} / {}",
            slow.duration,
            a.duration
        );
        let tempo = DEFAULT_PARAMS.tempo * (slow.duration / a.duration).ln();
        assert!((dtw(&a, &slow) - d_slow - tempo).abs() < 1e-5);
        assert_eq!(dtw(&a, &backwards), d_back, "same writing time: no tempo term");
    }

    #[test]
    fn dtw_matches_a_brute_force_on_small_sequences() {
        // With the band covering everything, DTW is the textbook full-matrix recursion:
        // the path of least total cost (ties broken the same way), divided by its length.
        let a = Trajectory {
            points: (0..6).map(|i| [i as f32, 0.0, 0.0, 0.0, 0.0]).collect(),
            duration: 6.0,
        };
        let b = Trajectory {
            points: [0.0, 0.0, 2.0, 5.0, 5.0].iter().map(|&v| [v, 1.0, 0.0, 0.0, 0.0]).collect(),
            duration: 5.0,
        };
        let (n, m) = (a.len(), b.len());
        let mut d = vec![vec![(f32::INFINITY, 0u32); m + 1]; n + 1];
        d[0][0] = (0.0, 0);
        for i in 1..=n {
            for j in 1..=m {
                let c = cost(&a.points[i - 1], &b.points[j - 1], &[1.0; FEATURES]);
                let mut best = d[i - 1][j - 1];
                for cand in [d[i - 1][j], d[i][j - 1]] {
                    if cand.0 < best.0 {
                        best = cand;
                    }
                }
                d[i][j] = (best.0 + c, best.1 + 1);
            }
        }
        let want = d[n][m].0 / d[n][m].1 as f32;
        let all = Params { position: 1.0, velocity: 1.0, pressure: 1.0, band: 1.0, tempo: 0.0 };
        assert!(
            (dtw_with(&a, &b, &all) - want).abs() < 1e-6,
            "{} vs {want}",
            dtw_with(&a, &b, &all)
        );
        // The tempo term adds |ln(6 / 5)| times its weight, in either order.
        let timed = Params { tempo: 0.5, ..all };
        let tempo = 0.5 * (6.0f32 / 5.0).ln();
        assert!((dtw_with(&a, &b, &timed) - (want + tempo)).abs() < 1e-6);
        assert!((dtw_with(&b, &a, &timed) - dtw_with(&b, &a, &all) - tempo).abs() < 1e-6);
    }

    #[test]
    fn long_drawings_are_decimated_with_their_pen_lifts_in_place() {
        // 5002 + 3000 points at 10 ms: more than MAX_POINTS, so every 3rd point is kept.
        let line =
            |n: usize, y: f32| timed(&(0..n).map(|i| (i as f32, y)).collect::<Vec<_>>(), 10.0);
        let t = Trajectory::from_strokes(&[line(5002, 0.0), line(3000, 500.0)]).unwrap();
        assert_eq!(t.len(), 8002usize.div_ceil(3));
        // The writing time is counted before decimation.
        assert_eq!(t.duration, 8002.0);
        // The second stroke starts at point 5002; its first kept point is 5004, kept as
        // point 1668: no speed there (the lift), steady speed on either side.
        assert_eq!((t.points[1668][2], t.points[1668][3]), (0.0, 0.0));
        assert!(t.points[1667][2] > 0.0 && t.points[1669][2] > 0.0);
        assert_eq!(t.points[1667][3], 0.0);
    }

    #[test]
    fn pen_lifts_are_not_speed_and_bad_input_is_refused() {
        let s1 = timed(&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (4.0, 0.0)], 10.0);
        let s2 =
            timed(&[(100.0, 5.0), (101.0, 5.0), (102.0, 5.0), (103.0, 5.0), (104.0, 5.0)], 10.0);
        let t = Trajectory::from_strokes(&[s1.clone(), s2]).unwrap();
        // The first point of the second stroke has no velocity, however far the jump.
        assert_eq!(t.points[5][2], 0.0);
        assert_eq!(t.points[5][3], 0.0);
        assert!(t.points[6][2] > 0.0);
        assert_eq!(Trajectory::from_strokes(&[]).unwrap_err().code, ErrorCode::NoInk);
        assert_eq!(
            Trajectory::from_strokes(&[s1[..1].to_vec()]).unwrap_err().code,
            ErrorCode::NoInk
        );
        let still = timed(&[(1.0, 1.0); 20], 10.0);
        assert_eq!(Trajectory::from_strokes(&[still]).unwrap_err().code, ErrorCode::NoInk);
        let nan = timed(&[(f32::NAN, 1.0); 20], 10.0);
        assert_eq!(Trajectory::from_strokes(&[nan]).unwrap_err().code, ErrorCode::NotFinite);
    }
}
