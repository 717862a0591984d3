//! Shared pools of model instances: the one place that bounds how much inference runs at
//! once. Every file's workers borrow an instance (with its own model sessions) per frame,
//! so a lone long film gets every instance while many small files share them, and
//! instances × intra-op threads never exceeds the thread budget.

use std::sync::{Condvar, Mutex, PoisonError};

use super::{RestoreStage, StageError, StagePlan};

struct Slots<T> {
    free: Vec<T>,
    created: usize,
}

/// A bounded pool of instances, created on first need.
pub struct LazyPool<T, E> {
    make: Box<dyn Fn() -> Result<T, E> + Send + Sync>,
    capacity: usize,
    slots: Mutex<Slots<T>>,
    returned: Condvar,
}

impl<T, E> LazyPool<T, E> {
    /// A pool of at most `capacity` instances made by `make`.
    pub fn new(capacity: usize, make: impl Fn() -> Result<T, E> + Send + Sync + 'static) -> Self {
        Self {
            make: Box::new(make),
            capacity: capacity.max(1),
            slots: Mutex::new(Slots {
                free: Vec::new(),
                created: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// How many instances may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `work` with an instance, waiting for one to be free.
    ///
    /// # Errors
    /// A new instance cannot be made (its model fails to load).
    pub fn with<R>(&self, work: impl FnOnce(&mut T) -> R) -> Result<R, E> {
        let mut instance = self.take()?;
        let result = work(&mut instance);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.free.push(instance);
        drop(slots);
        self.returned.notify_one();
        Ok(result)
    }

    fn take(&self) -> Result<T, E> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(instance) = slots.free.pop() {
                return Ok(instance);
            }
            if slots.created < self.capacity {
                slots.created += 1;
                drop(slots);
                // Loading a model takes a while; others may use free instances meanwhile.
                return (self.make)().inspect_err(|_| {
                    let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                    slots.created -= 1;
                    drop(slots);
                    self.returned.notify_one();
                });
            }
            slots = self
                .returned
                .wait(slots)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

type Instance = Vec<RestoreStage>;

/// The pool of frame-stage instances of a plan.
pub struct StagePool {
    plan: StagePlan,
    pool: LazyPool<Instance, StageError>,
}

impl StagePool {
    /// A pool of at most `capacity` instances of `plan`.
    pub fn new(plan: StagePlan, capacity: usize) -> Self {
        let factory = plan.clone();
        Self {
            plan,
            pool: LazyPool::new(capacity, move || factory.instantiate()),
        }
    }

    /// The plan the instances are made from.
    pub fn plan(&self) -> &StagePlan {
        &self.plan
    }

    /// How many instances may run at once.
    pub fn capacity(&self) -> usize {
        self.pool.capacity()
    }

    /// Runs `work` with an instance, waiting for one to be free.
    ///
    /// # Errors
    /// A new instance cannot be created (its model fails to load).
    pub fn with<R>(&self, work: impl FnOnce(&mut [RestoreStage]) -> R) -> Result<R, StageError> {
        self.pool.with(|instance| work(instance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn never_more_instances_than_capacity() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let pool: LazyPool<usize, ()> =
            LazyPool::new(2, move || Ok(counter.fetch_add(1, Ordering::SeqCst)));
        let busy = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    pool.with(|_| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        busy.fetch_sub(1, Ordering::SeqCst);
                    })
                    .unwrap();
                });
            }
        });
        assert_eq!(made.load(Ordering::SeqCst), 2);
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn a_failed_creation_frees_its_slot() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&attempts);
        let pool: LazyPool<(), String> = LazyPool::new(1, move || {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Err("first load fails".into())
            } else {
                Ok(())
            }
        });
        assert!(pool.with(|()| ()).is_err());
        assert!(pool.with(|()| ()).is_ok());
    }
}
