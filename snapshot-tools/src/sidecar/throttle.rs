//! A rate limit shared by every transfer of a sidecar, so that serving snapshots cannot take
//! all of a validator's bandwidth.

use {
    std::{sync::Mutex, time::Duration},
    tokio::time::Instant,
};

#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_second: u64,
    /// When the next chunk may start, over all transfers.
    next_free: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(bytes_per_second: u64) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1),
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// A chunk size that keeps the pacing smooth: about 1/20 s worth of bytes.
    pub fn chunk_size(&self) -> usize {
        (self.bytes_per_second / 20).clamp(4 << 10, 1 << 20) as usize
    }

    /// Waits until `bytes` more may be sent.
    pub async fn acquire(&self, bytes: usize) {
        let start = {
            let mut next_free = self.next_free.lock().expect("rate limiter lock");
            let now = Instant::now();
            let start = (*next_free).max(now);
            *next_free =
                start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_rate() {
        let limiter = RateLimiter::new(1000);
        let begin = Instant::now();
        for _ in 0..5 {
            limiter.acquire(500).await;
        }
        // Five chunks of 0.5 s each: the fifth may start after 2 s.
        assert_eq!(begin.elapsed(), Duration::from_secs(2));
    }
}
