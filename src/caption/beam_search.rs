//! Beam search, step for step as transformers' `generate()` runs it for encoder-decoder
//! models: the top `2 × beams` candidates of every step, the best that did not stop
//! carrying on, those that stopped among the top `beams` entering the finished set
//! (scored with the length penalty), and the early-stopping heuristic that ends the
//! search once no running beam can beat the finished ones. transformers keeps its
//! bookkeeping in fixed-size tensors with `-1e9` for "absent"; the same masking is kept
//! here so every tie and every cut falls as it does there.

use ndarray::Array2;

use super::configs::EarlyStopping;
use super::generate::{Generated, Settings, StepDecoder};
use super::scores::{ban_repeated_ngrams, log_softmax, top_k};

/// transformers' stand-in for minus infinity in beam bookkeeping.
const MASK: f32 = -1.0e9;

/// Tokens before the first generated one: the decoder start token.
const PROMPT_LEN: usize = 1;

/// The beams being extended, best first.
struct Running {
    sequences: Vec<Vec<i64>>,
    /// Sum of the log-probabilities of each sequence's generated tokens.
    scores: Vec<f32>,
}

/// One slot of the finished set. Until a sequence fills it, a slot is a placeholder
/// that scores `MASK`.
#[derive(Debug, Clone)]
struct Finished {
    tokens: Vec<i64>,
    /// Log-probability sum divided by length^penalty.
    score: f32,
    done: bool,
}

/// A running beam extended by one token.
struct Candidate {
    sequence: Vec<i64>,
    /// The extended beam's log-probability sum.
    log_prob: f32,
    /// The running beam it extends.
    from_beam: usize,
    /// It ends with an end token or reaches the length limit.
    hits_stop: bool,
}

/// The state of one beam search.
struct BeamSearch<'s> {
    settings: &'s Settings,
    running: Running,
    finished: Vec<Finished>,
    /// Whether a running beam may still beat the finished set; once false, nothing more
    /// enters it.
    improvable: bool,
    /// Tokens per running sequence, start token included.
    length: usize,
}

/// Generates one caption with `settings.beams` beams.
///
/// # Errors
/// The decoder fails.
pub(super) fn beam_search<D: StepDecoder>(
    decoder: &mut D,
    settings: &Settings,
) -> Result<Generated, D::Error> {
    let mut search = BeamSearch::start(settings);
    let mut cache = None;
    loop {
        let (logits, step_cache) = decoder.step(&search.running.sequences, cache.take())?;
        let candidates = search.candidates(&logits);
        let origins = search.carry_on(&candidates);
        search.collect_finished(&candidates);
        cache = Some(decoder.reorder(step_cache, &origins)?);
        search.length += 1;
        search.improvable = search.improvable && search.can_improve();
        if !search.goes_on(&candidates) {
            return Ok(search.best());
        }
    }
}

impl<'s> BeamSearch<'s> {
    /// All beams start from the start token; only the first counts, so the first step
    /// does not pick the same token once per beam.
    fn start(settings: &'s Settings) -> Self {
        let beams = settings.beams;
        let placeholder = Finished {
            tokens: Vec::new(),
            score: MASK,
            done: false,
        };
        Self {
            settings,
            running: Running {
                sequences: vec![vec![settings.config.decoder_start_token_id]; beams],
                scores: (0..beams)
                    .map(|b| if b == 0 { 0.0 } else { MASK })
                    .collect(),
            },
            finished: vec![placeholder; beams],
            improvable: true,
            length: PROMPT_LEN,
        }
    }

    /// The best extensions of all running beams: as many as may all end at once
    /// (`beams` for each end token) and still leave `beams` to carry on.
    fn candidates(&self, logits: &Array2<f32>) -> Vec<Candidate> {
        let config = &self.settings.config;
        let keep = 2usize.max(1 + config.eos_token_ids.len()) * self.settings.beams;
        let vocab = logits.ncols();
        let accumulated = self.accumulated(logits);
        top_k(&accumulated, keep)
            .into_iter()
            .map(|i| {
                let (beam, token) = (i / vocab, i64::try_from(i % vocab).unwrap_or_default());
                let mut sequence = self.running.sequences[beam].clone();
                sequence.push(token);
                Candidate {
                    hits_stop: config.eos_token_ids.contains(&token)
                        || self.length + 1 >= self.settings.max_length,
                    sequence,
                    log_prob: accumulated[i],
                    from_beam: beam,
                }
            })
            .collect()
    }

    /// Every (beam, token) score, beam after beam: the token's log-probability (banned
    /// n-grams removed) plus the beam's own.
    fn accumulated(&self, logits: &Array2<f32>) -> Vec<f32> {
        let mut accumulated = Vec::with_capacity(logits.len());
        for (b, sequence) in self.running.sequences.iter().enumerate() {
            let mut row = logits.row(b).to_vec();
            log_softmax(&mut row);
            ban_repeated_ngrams(sequence, self.settings.no_repeat_ngram_size, &mut row);
            accumulated.extend(row.iter().map(|v| v + self.running.scores[b]));
        }
        accumulated
    }

    /// The best candidates that did not stop become the running beams; returns the beam
    /// each came from, for the cache.
    fn carry_on(&mut self, candidates: &[Candidate]) -> Vec<usize> {
        let carry: Vec<f32> = candidates
            .iter()
            .map(|c| c.log_prob + if c.hits_stop { MASK } else { 0.0 })
            .collect();
        let next = top_k(&carry, self.settings.beams);
        self.running = Running {
            sequences: next
                .iter()
                .map(|k| candidates[*k].sequence.clone())
                .collect(),
            scores: next.iter().map(|k| carry[*k]).collect(),
        };
        next.iter().map(|k| candidates[*k].from_beam).collect()
    }

    /// Candidates among the top `beams` that stopped may enter the finished set; the
    /// others take part masked, as in transformers, so ties fall the same way.
    fn collect_finished(&mut self, candidates: &[Candidate]) {
        let config = &self.settings.config;
        let beams = self.settings.beams;
        let closed = self.all_done() && config.early_stopping == EarlyStopping::Yes;
        let length = (self.length + 1 - PROMPT_LEN) as f32;
        let mut merged = self.finished.clone();
        for (k, candidate) in candidates.iter().enumerate() {
            let just_finished = candidate.hits_stop && k < beams;
            let mut score = candidate.log_prob / length.powf(config.length_penalty);
            if closed {
                score += MASK;
            }
            if !self.improvable {
                score += MASK;
            }
            if !just_finished {
                score += MASK;
            }
            merged.push(Finished {
                tokens: candidate.sequence.clone(),
                score,
                done: just_finished,
            });
        }
        let scores: Vec<f32> = merged.iter().map(|m| m.score).collect();
        self.finished = top_k(&scores, beams)
            .into_iter()
            .map(|i| merged[i].clone())
            .collect();
    }

    /// Whether the best running beam, at the best length it could reach, still beats a
    /// finished sequence (or an empty slot).
    fn can_improve(&self) -> bool {
        let config = &self.settings.config;
        let best_length =
            if config.early_stopping == EarlyStopping::Never && config.length_penalty > 0.0 {
                self.settings.max_length - PROMPT_LEN
            } else {
                self.length - PROMPT_LEN
            };
        let best_running =
            self.running.scores[0] / (best_length as f32).powf(config.length_penalty);
        let worst_finished = self
            .finished
            .iter()
            .map(|f| f.score)
            .fold(f32::INFINITY, f32::min);
        self.finished
            .iter()
            .any(|f| best_running > if f.done { worst_finished } else { MASK })
    }

    fn all_done(&self) -> bool {
        self.finished.iter().all(|f| f.done)
    }

    /// Whether another step may change the result.
    fn goes_on(&self, candidates: &[Candidate]) -> bool {
        let open = !(self.all_done() && self.settings.config.early_stopping == EarlyStopping::Yes);
        let continuable = !candidates.iter().all(|c| c.hits_stop);
        self.improvable && open && continuable
    }

    /// The best finished sequence, its score turned back into a mean log-probability.
    fn best(mut self) -> Generated {
        let Finished { tokens, score, .. } = self.finished.swap_remove(0);
        let generated = tokens.len().saturating_sub(PROMPT_LEN).max(1) as f32;
        // The finished score is the log-probability sum divided by length^penalty.
        let sum = score * generated.powf(self.settings.config.length_penalty);
        Generated {
            tokens,
            mean_log_prob: sum / generated,
        }
    }
}
