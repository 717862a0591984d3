//! Caption cues: what was said about which stretch of a video, with consecutive cues of
//! the same text merged into one.

use serde::Serialize;

/// One caption over a time span (seconds from the start of the presentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Mean log-probability of the caption's tokens (higher is surer).
    pub mean_log_prob: f32,
}

/// A caption of one sampled frame at time `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: f64,
    pub text: String,
    pub mean_log_prob: f32,
}

/// Turns time-ordered samples into cues: each lasts until the next sample (the last one
/// until `end`), and consecutive samples with the same text become one cue whose score is
/// the mean of theirs.
pub fn cues_from_samples(samples: &[Sample], end: f64) -> Vec<Cue> {
    let mut cues: Vec<(Cue, usize)> = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let until = samples
            .get(i + 1)
            .map_or(end, |next| next.at)
            .max(sample.at);
        match cues.last_mut() {
            Some((cue, count)) if cue.text == sample.text => {
                cue.end = until;
                cue.mean_log_prob += sample.mean_log_prob;
                *count += 1;
            }
            _ => cues.push((
                Cue {
                    start: sample.at,
                    end: until,
                    text: sample.text.clone(),
                    mean_log_prob: sample.mean_log_prob,
                },
                1,
            )),
        }
    }
    cues.into_iter()
        .map(|(mut cue, count)| {
            cue.mean_log_prob /= count as f32;
            cue
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, text: &str) -> Sample {
        Sample {
            at,
            text: text.into(),
            mean_log_prob: -0.5,
        }
    }

    #[test]
    fn identical_neighbours_merge_and_cues_run_to_the_next_sample() {
        let cues = cues_from_samples(
            &[
                sample(0.0, "a"),
                sample(2.0, "a"),
                sample(4.0, "b"),
                sample(6.0, "a"),
            ],
            7.5,
        );
        let spans: Vec<(f64, f64, &str)> = cues
            .iter()
            .map(|c| (c.start, c.end, c.text.as_str()))
            .collect();
        assert_eq!(
            spans,
            vec![(0.0, 4.0, "a"), (4.0, 6.0, "b"), (6.0, 7.5, "a")]
        );
        assert_eq!(cues[0].mean_log_prob, -0.5);
    }
}
