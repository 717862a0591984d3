//! The shared pool of stage instances: the one place that bounds how much inference runs
//! at once. Every file's workers borrow an instance (with its own model sessions) per
//! frame, so a lone long film gets every instance while many small files share them, and
//! instances × intra-op threads never exceeds the thread budget.

use std::sync::{Condvar, Mutex, PoisonError};

use super::{FrameStage, StageError, StagePlan};

type Instance = Vec<Box<dyn FrameStage>>;

struct Slots {
    free: Vec<Instance>,
    created: usize,
}

/// A bounded, lazily filled pool of stage instances.
pub struct StagePool {
    plan: StagePlan,
    capacity: usize,
    slots: Mutex<Slots>,
    returned: Condvar,
}

impl StagePool {
    /// A pool of at most `capacity` instances of `plan`.
    pub fn new(plan: StagePlan, capacity: usize) -> Self {
        Self {
            plan,
            capacity: capacity.max(1),
            slots: Mutex::new(Slots {
                free: Vec::new(),
                created: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// The plan the instances are made from.
    pub fn plan(&self) -> &StagePlan {
        &self.plan
    }

    /// How many instances may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `work` with an instance, waiting for one to be free.
    ///
    /// # Errors
    /// A new instance cannot be created (its model fails to load).
    pub fn with<R>(
        &self,
        work: impl FnOnce(&mut [Box<dyn FrameStage>]) -> R,
    ) -> Result<R, StageError> {
        let mut instance = self.take()?;
        let result = work(&mut instance);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.free.push(instance);
        drop(slots);
        self.returned.notify_one();
        Ok(result)
    }

    fn take(&self) -> Result<Instance, StageError> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(instance) = slots.free.pop() {
                return Ok(instance);
            }
            if slots.created < self.capacity {
                slots.created += 1;
                drop(slots);
                // Loading a model takes a while; others may use free instances meanwhile.
                return self.plan.instantiate().inspect_err(|_| {
                    let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                    slots.created -= 1;
                });
            }
            slots = self
                .returned
                .wait(slots)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
