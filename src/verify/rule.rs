//! The accept/reject rule, in one place: the browser's `verify` and `identify` and the
//! trainer's evaluation all decide with it.

/// The thresholds a decision is made at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// The picture's similarity must be at or above this (the model's threshold).
    pub score: f32,
    /// Where pen motion is compared, its DTW distance must be at or below this.
    pub motion: f32,
}

impl Rule {
    pub fn score_matches(&self, score: f32) -> bool {
        score >= self.score
    }

    pub fn motion_matches(&self, distance: f32) -> bool {
        distance <= self.motion
    }

    /// Accept: the score matches and, where the motion was compared (`Some`), so does it.
    pub fn accepts(&self, score: f32, motion_distance: Option<f32>) -> bool {
        self.score_matches(score) && motion_distance.is_none_or(|d| self.motion_matches(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_checks_must_pass_and_the_thresholds_themselves_match() {
        let r = Rule { score: 0.5, motion: 1.2 };
        assert!(r.accepts(0.5, None));
        assert!(r.accepts(0.9, Some(1.2)));
        assert!(!r.accepts(0.49, None));
        assert!(!r.accepts(0.9, Some(1.21)));
        assert!(!r.accepts(0.1, Some(0.0)));
    }
}
