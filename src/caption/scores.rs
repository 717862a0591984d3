//! One decoding step's scores over the vocabulary, handled the way transformers (and
//! torch under it) handles them, so ties and bans fall the same way: log-softmax, the
//! no-repeat-n-gram ban, argmax and top-k.

/// Turns logits into log-probabilities, in place.
pub(super) fn log_softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    let log_sum = sum.ln();
    for v in row.iter_mut() {
        *v = *v - max - log_sum;
    }
}

/// Sets to -inf every token that would repeat an n-gram already in `sequence`.
pub(super) fn ban_repeated_ngrams(sequence: &[i64], n: usize, scores: &mut [f32]) {
    let len = sequence.len();
    if n == 0 || len + 1 < n {
        return;
    }
    let prefix = &sequence[len + 1 - n..];
    for window in sequence.windows(n) {
        if &window[..n - 1] == prefix {
            if let Some(score) = usize::try_from(window[n - 1])
                .ok()
                .and_then(|t| scores.get_mut(t))
            {
                *score = f32::NEG_INFINITY;
            }
        }
    }
}

/// Index of the largest score; torch.argmax keeps the first of equal maxima.
pub(super) fn argmax(scores: &[f32]) -> usize {
    scores
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |best, (i, v)| {
            if *v > best.1 {
                (i, *v)
            } else {
                best
            }
        })
        .0
}

/// Indices of the `k` largest values, largest first, earlier index first among equals.
pub(super) fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*b].total_cmp(&values[*a]).then(a.cmp(b)));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_earlier_index() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(top_k(&[1.0, 3.0, 3.0, 2.0], 3), vec![1, 2, 3]);
    }

    #[test]
    fn only_the_token_that_completes_a_seen_ngram_is_banned() {
        // Trigrams: "5 6" was followed by 7 before, so 7 may not follow it again.
        let mut scores = vec![0.0; 8];
        ban_repeated_ngrams(&[5, 6, 7, 1, 5, 6], 3, &mut scores);
        let banned: Vec<usize> = (0..8).filter(|t| scores[*t].is_infinite()).collect();
        assert_eq!(banned, vec![7]);
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let mut row = vec![0.5, -1.0, 2.0];
        log_softmax(&mut row);
        let total: f32 = row.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
