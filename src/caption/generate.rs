//! Token generation, step for step as transformers' `generate()` does it for
//! encoder-decoder models, so the same model gives the same tokens: the decoder as
//! generation sees it, greedy search here and beam search in `beam_search`, both with
//! the no-repeat-n-gram rule. Greedy search also runs many images at once, one decoder
//! row each: all rows have the same length at every step (finished rows leave the
//! batch), so no padding or attention mask is needed and each row's tokens are those it
//! gets alone.

use ndarray::Array2;

use super::beam_search::beam_search;
use super::configs::Generation;
use super::scores::{argmax, ban_repeated_ngrams, log_softmax};

/// The decoder as generation sees it: one step for a set of rows (beams of one image, or
/// one row per image), with a cache that can be reordered when rows are reshuffled or
/// leave.
pub trait StepDecoder {
    type Cache;
    type Error;

    /// Logits at the last position, [rows, vocab], for each row's full token sequence
    /// (cached decoders read only the newest token), and the updated cache.
    ///
    /// # Errors
    /// The model fails.
    fn step(
        &mut self,
        sequences: &[Vec<i64>],
        cache: Option<Self::Cache>,
    ) -> Result<(Array2<f32>, Self::Cache), Self::Error>;

    /// The cache with its rows picked (and repeated) by `rows`; the decoder follows, so
    /// row `i` of the next step continues what row `rows[i]` was.
    ///
    /// # Errors
    /// The cache cannot be rebuilt.
    fn reorder(&mut self, cache: Self::Cache, rows: &[usize]) -> Result<Self::Cache, Self::Error>;
}

/// A generated caption: token ids (with the start token) and the mean log-probability
/// of the generated tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub tokens: Vec<i64>,
    pub mean_log_prob: f32,
}

/// Settings for one generation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub beams: usize,
    pub max_length: usize,
    pub no_repeat_ngram_size: usize,
    pub config: Generation,
}

impl Settings {
    /// The model's own generation defaults (length, n-gram rule, tokens) with `beams`.
    pub fn model_defaults(config: &Generation, beams: usize) -> Self {
        Self {
            beams,
            max_length: config.max_length,
            no_repeat_ngram_size: config.no_repeat_ngram_size,
            config: config.clone(),
        }
    }
}

/// Generates one caption.
///
/// # Errors
/// The decoder fails.
pub fn generate<D: StepDecoder>(
    decoder: &mut D,
    settings: &Settings,
) -> Result<Generated, D::Error> {
    if settings.beams <= 1 {
        let mut one = greedy_batch(decoder, settings, 1)?;
        Ok(one.swap_remove(0))
    } else {
        beam_search(decoder, settings)
    }
}

/// Greedy search for `rows` images at once (the decoder holds one row per image, in
/// order); one caption per image, in the same order.
///
/// # Errors
/// The decoder fails.
pub fn greedy_batch<D: StepDecoder>(
    decoder: &mut D,
    settings: &Settings,
    rows: usize,
) -> Result<Vec<Generated>, D::Error> {
    let config = &settings.config;
    let mut sequences = vec![vec![config.decoder_start_token_id]; rows];
    let mut log_prob_sums = vec![0.0f32; rows];
    // Which image each decoder row belongs to; rows that reach the end leave.
    let mut active: Vec<usize> = (0..rows).collect();
    let mut cache = None;
    let mut length = 1;
    while length < settings.max_length && !active.is_empty() {
        let current: Vec<Vec<i64>> = active.iter().map(|i| sequences[*i].clone()).collect();
        let (logits, next_cache) = decoder.step(&current, cache.take())?;
        let mut still_running = Vec::with_capacity(active.len());
        for (row, image) in active.iter().enumerate() {
            let mut scores = logits.row(row).to_vec();
            ban_repeated_ngrams(
                &sequences[*image],
                settings.no_repeat_ngram_size,
                &mut scores,
            );
            let token = argmax(&scores);
            log_softmax(&mut scores);
            log_prob_sums[*image] += scores[token];
            let token = i64::try_from(token).unwrap_or_default();
            sequences[*image].push(token);
            if !config.eos_token_ids.contains(&token) {
                still_running.push(row);
            }
        }
        length += 1;
        cache = if still_running.len() == active.len() {
            Some(next_cache)
        } else if still_running.is_empty() {
            None
        } else {
            Some(decoder.reorder(next_cache, &still_running)?)
        };
        active = still_running.iter().map(|row| active[*row]).collect();
    }
    Ok(sequences
        .into_iter()
        .zip(log_prob_sums)
        .map(|(tokens, sum)| {
            let generated = (tokens.len() - 1).max(1);
            Generated {
                tokens,
                mean_log_prob: sum / generated as f32,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caption::configs::EarlyStopping;

    /// A fake decoder whose next-token distribution is a fixed function of the sequence.
    struct Table {
        vocab: usize,
        next: fn(&[i64]) -> Vec<f32>,
    }

    impl StepDecoder for Table {
        type Cache = usize;
        type Error = ();
        fn step(
            &mut self,
            sequences: &[Vec<i64>],
            cache: Option<usize>,
        ) -> Result<(Array2<f32>, usize), ()> {
            let mut logits = Array2::zeros((sequences.len(), self.vocab));
            for (r, s) in sequences.iter().enumerate() {
                for (v, value) in (self.next)(s).into_iter().enumerate() {
                    logits[[r, v]] = value;
                }
            }
            Ok((logits, cache.unwrap_or(0) + 1))
        }
        fn reorder(&mut self, cache: usize, _rows: &[usize]) -> Result<usize, ()> {
            Ok(cache)
        }
    }

    fn settings(beams: usize, max_length: usize, ngram: usize) -> Settings {
        Settings {
            beams,
            max_length,
            no_repeat_ngram_size: ngram,
            config: Generation {
                decoder_start_token_id: 1,
                eos_token_ids: vec![2],
                pad_token_id: 0,
                max_length,
                num_beams: beams,
                no_repeat_ngram_size: ngram,
                length_penalty: 1.0,
                early_stopping: EarlyStopping::No,
            },
        }
    }

    #[test]
    fn greedy_follows_the_argmax_until_eos() {
        // After the start token: 3, then 4, then end.
        let mut d = Table {
            vocab: 5,
            next: |s| match s.len() {
                1 => vec![0.0, 0.0, 0.0, 5.0, 0.0],
                2 => vec![0.0, 0.0, 0.0, 0.0, 5.0],
                _ => vec![0.0, 0.0, 5.0, 0.0, 0.0],
            },
        };
        let out = generate(&mut d, &settings(1, 10, 0)).unwrap();
        assert_eq!(out.tokens, vec![1, 3, 4, 2]);
        assert!(out.mean_log_prob < 0.0 && out.mean_log_prob > -0.1);
    }

    #[test]
    fn greedy_stops_at_max_length() {
        let mut d = Table {
            vocab: 5,
            next: |_| vec![0.0, 0.0, 0.0, 5.0, 0.0],
        };
        assert_eq!(
            generate(&mut d, &settings(1, 4, 0)).unwrap().tokens,
            vec![1, 3, 3, 3]
        );
    }

    #[test]
    fn no_repeat_ngram_bans_a_repeated_pair() {
        let mut d = Table {
            vocab: 5,
            next: |_| vec![0.0, 0.0, 0.0, 5.0, 4.0],
        };
        // Bigrams may not repeat: after "3 3" the pair (3,3) is banned, so 4; after the
        // next 3 both (3,3) and (3,4) are taken, so the first of the equal rest, 0.
        let out = generate(&mut d, &settings(1, 6, 2)).unwrap();
        assert_eq!(out.tokens, vec![1, 3, 3, 4, 3, 0]);
    }

    #[test]
    fn beam_search_finds_the_better_sequence_greedy_misses() {
        // Greedy takes 3 (p≈0.6) but 3 is followed by a flat distribution; 4 (p≈0.4) leads
        // to a certain end.
        let mut d = Table {
            vocab: 5,
            next: |s| match (s.len(), s.last()) {
                (1, _) => vec![-9.0, -9.0, -9.0, 0.4, 0.0],
                (_, Some(3)) => vec![-9.0, 0.0, 0.0, 0.0, 0.0],
                (_, Some(4)) => vec![-9.0, -9.0, 9.0, -9.0, -9.0],
                _ => vec![-9.0, -9.0, 9.0, -9.0, -9.0],
            },
        };
        assert_eq!(generate(&mut d, &settings(1, 6, 0)).unwrap().tokens[1], 3);
        assert_eq!(
            generate(&mut d, &settings(3, 6, 0)).unwrap().tokens,
            vec![1, 4, 2]
        );
    }

    /// A fake decoder whose rows belong to images; each image has its own fixed caption.
    struct PerImage {
        captions: Vec<Vec<i64>>,
        row_image: Vec<usize>,
        steps: usize,
    }

    impl StepDecoder for PerImage {
        type Cache = usize;
        type Error = ();
        fn step(
            &mut self,
            sequences: &[Vec<i64>],
            cache: Option<usize>,
        ) -> Result<(Array2<f32>, usize), ()> {
            assert_eq!(sequences.len(), self.row_image.len());
            self.steps += 1;
            let mut logits = Array2::zeros((sequences.len(), 6));
            for (r, s) in sequences.iter().enumerate() {
                let caption = &self.captions[self.row_image[r]];
                let next = caption.get(s.len() - 1).copied().unwrap_or(2);
                logits[[r, usize::try_from(next).unwrap()]] = 5.0;
            }
            Ok((logits, cache.unwrap_or(0) + 1))
        }
        fn reorder(&mut self, cache: usize, rows: &[usize]) -> Result<usize, ()> {
            self.row_image = rows.iter().map(|r| self.row_image[*r]).collect();
            Ok(cache)
        }
    }

    #[test]
    fn greedy_batch_gives_each_image_its_own_caption_as_rows_finish() {
        let captions = vec![vec![3, 2], vec![4, 5, 3, 4, 2], vec![5, 5, 2]];
        let mut alone = Vec::new();
        for caption in &captions {
            let mut d = PerImage {
                captions: vec![caption.clone()],
                row_image: vec![0],
                steps: 0,
            };
            alone.push(generate(&mut d, &settings(1, 10, 0)).unwrap());
        }
        let mut d = PerImage {
            captions: captions.clone(),
            row_image: vec![0, 1, 2],
            steps: 0,
        };
        let together = greedy_batch(&mut d, &settings(1, 10, 0), 3).unwrap();
        assert_eq!(together, alone);
        assert_eq!(together[1].tokens, vec![1, 4, 5, 3, 4, 2]);
        // As many steps as the longest caption, not the sum of all.
        assert_eq!(d.steps, 5);
    }
}
