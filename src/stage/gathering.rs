//! Work of many callers gathered into batches: each caller hands in one item and waits
//! for its result; whoever holds a model instance runs everything waiting, up to the
//! batch size at a time, until nothing waits. While every instance is busy, items pile
//! up and the next holder runs them together, so stills of different files share a
//! captioner's decoder steps (a step reads all its weights whatever the rows: 8 rows
//! cost about 12 ms each against 55 ms for one, at vit-gpt2's size).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crossbeam_channel::{bounded, Sender};

use super::pool::LazyPool;

/// Items waiting for an instance, each with the way back to its caller.
pub struct Gathering<X, Y> {
    waiting: Mutex<VecDeque<(X, Sender<Y>)>>,
}

impl<X, Y> Default for Gathering<X, Y> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(VecDeque::new()),
        }
    }
}

impl<X, Y> Gathering<X, Y> {
    /// Hands `item` in and returns its result: waits for an instance of `pool`, then
    /// runs `work` on the items waiting, at most `batch` at a time, until none wait.
    /// `work` gives one result per item, in order. `Ok(None)`: the caller running this
    /// item's batch stopped (panicked) before it could answer.
    ///
    /// # Errors
    /// No instance can be made (its model fails to load).
    pub fn submit<T, E>(
        &self,
        item: X,
        pool: &LazyPool<T, E>,
        batch: usize,
        work: impl Fn(&mut T, Vec<X>) -> Vec<Y>,
    ) -> Result<Option<Y>, E> {
        let (answer, result) = bounded(1);
        self.lock().push_back((item, answer));
        // Once this caller holds an instance and finds nothing waiting, its own item
        // has been taken by a batch (this one's or another caller's), whose runner
        // answers it.
        pool.with(|instance| loop {
            let taken: Vec<(X, Sender<Y>)> = {
                let mut waiting = self.lock();
                let count = waiting.len().min(batch.max(1));
                waiting.drain(..count).collect()
            };
            if taken.is_empty() {
                return;
            }
            let (items, answers): (Vec<X>, Vec<Sender<Y>>) = taken.into_iter().unzip();
            for (answer, result) in answers.iter().zip(work(instance, items)) {
                // A caller that stopped waiting no longer needs its answer.
                let _ = answer.send(result);
            }
        })?;
        Ok(result.recv().ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(X, Sender<Y>)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn items_waiting_while_the_instance_is_busy_run_as_one_batch() {
        let pool: LazyPool<(), ()> = LazyPool::new(1, || Ok(()));
        let gathering: Gathering<u32, u32> = Gathering::default();
        let batches = Mutex::new(Vec::new());
        let (started, first_running) = bounded::<()>(1);
        let release = AtomicBool::new(false);
        let work = |_: &mut (), items: Vec<u32>| {
            batches.lock().unwrap().push(items.clone());
            if items == [0] {
                // The first item holds the instance until the others wait.
                let _ = started.send(());
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            items.iter().map(|i| i * 10).collect()
        };
        let results = Arc::new(Mutex::new(Vec::new()));
        std::thread::scope(|scope| {
            let first = scope.spawn(|| gathering.submit(0, &pool, 8, work));
            first_running.recv().unwrap();
            let others: Vec<_> = (1..4)
                .map(|i| {
                    let (gathering, pool, results) = (&gathering, &pool, results.clone());
                    scope.spawn(move || {
                        let result = gathering.submit(i, pool, 8, work);
                        results.lock().unwrap().push(result);
                    })
                })
                .collect();
            while gathering.lock().len() < 3 {
                std::thread::sleep(Duration::from_millis(1));
            }
            release.store(true, Ordering::SeqCst);
            assert_eq!(first.join().unwrap(), Ok(Some(0)));
            for other in others {
                other.join().unwrap();
            }
        });
        let mut results = results.lock().unwrap().clone();
        results.sort();
        assert_eq!(results, [Ok(Some(10)), Ok(Some(20)), Ok(Some(30))]);
        let mut batches = batches.into_inner().unwrap();
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert_eq!(batches[0], [0]);
        // The three came in whatever order their threads ran.
        batches[1].sort_unstable();
        assert_eq!(batches[1], [1, 2, 3]);
    }

    #[test]
    fn batches_are_at_most_the_batch_size() {
        let pool: LazyPool<(), ()> = LazyPool::new(1, || Ok(()));
        let gathering: Gathering<u32, u32> = Gathering::default();
        for i in 0..5 {
            gathering.lock().push_back((i, bounded(1).0));
        }
        let batches = Mutex::new(Vec::new());
        let result = gathering.submit(5, &pool, 4, |_, items| {
            batches.lock().unwrap().push(items.len());
            items
        });
        assert_eq!(result, Ok(Some(5)));
        assert_eq!(batches.into_inner().unwrap(), [4, 2]);
    }
}
