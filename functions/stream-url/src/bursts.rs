//! Frames gathered into writes for the streamed response body (see [`Bursts`]).

use bytes::Bytes;
use tokio::sync::mpsc;

/// Frames closer together than this are fast.
const FAST_STREAM: std::time::Duration = std::time::Duration::from_micros(200);
/// This many fast frames in a row make a fast stream, whose bursts gather more frames: a reply
/// relayed at full speed, not a few tokens that a busy model server sent together.
const FAST_RUN: u32 = 8;
/// Most scheduler turns a fast stream's burst waits for frames already on their way.
const MAX_TURNS: usize = 32;
/// A burst is written once it holds this much.
const MAX_BURST: usize = 32 * 1024;

/// One frame for the body, and whether it may wait in a gathered burst: true from the frame after
/// the first content on, so the time to first token never waits for gathering.
pub type Frame = (Bytes, bool);

/// The channel's frames grouped into writes: each write a syscall on the runtime API connection
/// and a chunk for the reader, so one per frame costs more than the frame.
///
/// A burst is the frame received and every frame queued behind it: nothing waits for frames not
/// yet produced, so a model's paced stream (frames milliseconds apart) is written frame by frame.
/// A fast stream ([`FAST_RUN`] frames in a row, each less than [`FAST_STREAM`] after the one
/// before) arrives one event per scheduler turn, as the upstream's HTTP body hands over one chunk
/// at a time, so its queue is never more than one deep and each frame was its own write. Past its
/// first content, its burst also gives the tasks that feed it a turn (`yield_now`) while each
/// turn brings more frames, up to [`MAX_TURNS`] or [`MAX_BURST`]; a turn runs only tasks that
/// are ready, never waits on the network. Measured (`make bench`, streaming): the relay rate of a
/// long unpaced reply went from about 150,000 to 360,000 tokens/s, the first content unchanged.
pub struct Bursts {
    rx: mpsc::Receiver<Frame>,
    last: Option<std::time::Instant>,
    /// Fast frames in a row, up to now.
    fast_run: u32,
}

impl Bursts {
    pub fn new(rx: mpsc::Receiver<Frame>) -> Bursts {
        Bursts {
            rx,
            last: None,
            fast_run: 0,
        }
    }

    /// The next write, `None` once the pump has ended and every frame is out.
    pub async fn next(&mut self) -> Option<Bytes> {
        let (first, mut gather) = self.rx.recv().await?;
        let now = std::time::Instant::now();
        let fast_frame = self.last.is_some_and(|t| now - t < FAST_STREAM);
        self.fast_run = if fast_frame {
            self.fast_run.saturating_add(1)
        } else {
            0
        };
        let fast = self.fast_run >= FAST_RUN;
        self.last = Some(now);
        if self.rx.is_empty() && !(fast && gather) {
            return Some(first);
        }
        let mut burst = bytes::BytesMut::from(&first[..]);
        self.drain_into(&mut burst, &mut gather);
        if fast && gather {
            for _ in 0..MAX_TURNS {
                if burst.len() >= MAX_BURST {
                    break;
                }
                tokio::task::yield_now().await;
                if !self.drain_into(&mut burst, &mut gather) || !gather {
                    break;
                }
            }
            self.last = Some(std::time::Instant::now());
        }
        Some(burst.freeze())
    }

    /// Appends the frames queued now, clearing `gather` if one of them may not wait; whether
    /// there were any.
    fn drain_into(&mut self, burst: &mut bytes::BytesMut, gather: &mut bool) -> bool {
        let mut any = false;
        while let Ok((more, may)) = self.rx.try_recv() {
            burst.extend_from_slice(&more);
            *gather &= may;
            any = true;
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    /// The pump's channel size.
    const CAPACITY: usize = 16;

    /// Collects the writes `Bursts` makes of the frames `produce` sends.
    async fn writes<F, Fut>(produce: F) -> Vec<Bytes>
    where
        F: FnOnce(mpsc::Sender<Frame>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let producer = tokio::spawn(produce(tx));
        let mut bursts = Bursts::new(rx);
        let mut out = Vec::new();
        while let Some(w) = bursts.next().await {
            out.push(w);
        }
        producer.await.unwrap();
        out
    }

    fn numbered(i: usize) -> Bytes {
        Bytes::from(format!("f{i};"))
    }

    /// What frames `0..n` make, in order.
    fn all_frames(n: usize) -> String {
        (0..n).map(|i| format!("f{i};")).collect()
    }

    /// Returns once `Bursts` has taken every frame sent (so the next is not queued with them).
    async fn until_taken(tx: &mpsc::Sender<Frame>) {
        while tx.capacity() < CAPACITY {
            tokio::task::yield_now().await;
        }
    }

    fn joined(writes: &[Bytes]) -> String {
        writes
            .iter()
            .map(|w| std::str::from_utf8(w).unwrap())
            .collect()
    }

    /// A fast stream delivers one frame per scheduler turn (as the upstream body does): past
    /// its first content, its frames are gathered into far fewer writes, all in order.
    #[tokio::test]
    async fn a_fast_stream_is_gathered_into_few_writes() {
        let w = writes(|tx| async move {
            for i in 0..200 {
                tx.send((numbered(i), i > 0)).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert_eq!(joined(&w), all_frames(200));
        // One per frame without gathering; a pause on a loaded machine costs a write or two.
        assert!(w.len() <= 50, "{} writes for 200 fast frames", w.len());
    }

    /// Frames milliseconds apart (a model's pace) are written one by one, none held back.
    #[tokio::test]
    async fn a_paced_stream_is_written_frame_by_frame() {
        let w = writes(|tx| async move {
            for i in 0..8 {
                tx.send((numbered(i), true)).await.unwrap();
                // Taken before the next comes (so a loaded machine cannot queue two together).
                until_taken(&tx).await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
        .await;
        assert_eq!(w.len(), 8, "{:?}", joined(&w));
    }

    /// A few fast frames (a busy server's clump of tokens) are not a fast stream: each is
    /// written as it comes, with no turns given away.
    #[tokio::test]
    async fn a_short_clump_is_not_gathered() {
        let w = writes(|tx| async move {
            // Eight frames: seven of them fast, one short of a fast stream.
            for i in 0..8 {
                tx.send((numbered(i), true)).await.unwrap();
                until_taken(&tx).await;
            }
        })
        .await;
        assert_eq!(w.len(), 8, "{:?}", joined(&w));
    }

    /// The first content is written without waiting for the fast frames produced after it.
    #[tokio::test]
    async fn the_first_content_is_not_held_for_gathering() {
        let w = writes(|tx| async move {
            for i in 0..100 {
                // Frame 1 is the first content: frames up to it may not wait.
                tx.send((numbered(i), i > 1)).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            w.iter().any(|w| w.ends_with(b"f1;")),
            "a write ends with the first content: {:?}",
            w.iter().take(3).collect::<Vec<_>>()
        );
        assert_eq!(joined(&w), all_frames(100));
    }
}
