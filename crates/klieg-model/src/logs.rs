//! Log viewing: what the UI asks for (one pod, or every pod of a workload) and the bounded,
//! chunked buffer of lines the backend publishes. Pure data.

use super::Target;
use std::collections::VecDeque;
use std::sync::Arc;

/// Which logs to show.
#[derive(Clone, Debug, PartialEq)]
pub struct LogQuery {
    /// A pod, or a workload whose pods are merged (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job).
    pub target: Target,
    /// `None`: every container.
    pub container: Option<Arc<str>>,
    pub previous: bool,
    pub timestamps: bool,
    pub follow: bool,
    pub tail_lines: i64,
}

/// One line and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// Index into `LogSnapshot::sources`.
    pub source: u16,
    pub text: Arc<str>,
    /// The line was longer than the line limit and goes on in the next line of its source.
    pub continues: bool,
}

/// Lines are kept in chunks so that publishing a snapshot copies a few pointers, not the lines.
pub const CHUNK_LINES: usize = 1024;

/// The lines received so far, at most `capacity`, oldest dropped first, whole chunks at a time.
#[derive(Clone, Debug, Default)]
pub struct LogBuffer {
    chunks: VecDeque<Arc<Vec<LogLine>>>,
    /// Lines in `chunks`.
    len: usize,
    /// Lines dropped from the front since the start.
    pub dropped: u64,
    capacity: usize,
}

impl LogBuffer {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(CHUNK_LINES), ..Self::default() }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, line: LogLine) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK_LINES => Arc::make_mut(last).push(line),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_LINES);
                chunk.push(line);
                self.chunks.push_back(Arc::new(chunk));
            }
        }
        self.len += 1;
        while self.len > self.capacity {
            let Some(first) = self.chunks.pop_front() else { break };
            self.len -= first.len();
            self.dropped += first.len() as u64;
        }
    }

    /// The `index`th line kept, oldest first.
    pub fn get(&self, index: usize) -> Option<&LogLine> {
        let mut rest = index;
        for chunk in &self.chunks {
            if rest < chunk.len() {
                return chunk.get(rest);
            }
            rest -= chunk.len();
        }
        None
    }

    /// Lines from `start`, in order: cheap to walk for a screenful of rows.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &LogLine> {
        self.chunks.iter().flat_map(|c| c.iter()).skip(start)
    }
}

/// What the log view shows.
#[derive(Clone, Debug, Default)]
pub struct LogSnapshot {
    pub generation: u64,
    pub query: Option<LogQuery>,
    /// `pod/container` of each source, for the coloured prefix.
    pub sources: Vec<Arc<str>>,
    pub buffer: LogBuffer,
    /// Streams still open.
    pub streaming: usize,
    /// Errors per source, shown above the lines.
    pub errors: Vec<Arc<str>>,
    /// Containers of the pod(s), for the picker.
    pub containers: Vec<Arc<str>>,
    /// `pod/container` streams not followed: the view follows at most `MAX_LOG_STREAMS`.
    pub left_out: Vec<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_bounded_and_keeps_order() {
        let mut buffer = LogBuffer::with_capacity(2 * CHUNK_LINES);
        for i in 0..(5 * CHUNK_LINES + 10) {
            buffer.push(LogLine { source: 0, text: Arc::from(i.to_string()), continues: false });
        }
        assert!(buffer.len() <= 2 * CHUNK_LINES && buffer.len() > CHUNK_LINES, "{}", buffer.len());
        assert_eq!(buffer.dropped as usize + buffer.len(), 5 * CHUNK_LINES + 10);
        let first: usize = buffer.get(0).map(|l| l.text.parse().unwrap_or(0)).unwrap_or(0);
        assert_eq!(first, buffer.dropped as usize, "the oldest kept line follows the dropped ones");
        let last = buffer.get(buffer.len() - 1).map(|l| l.text.to_string());
        assert_eq!(last, Some((5 * CHUNK_LINES + 9).to_string()));
        let walked: Vec<String> = buffer.iter_from(buffer.len() - 2).map(|l| l.text.to_string()).collect();
        assert_eq!(walked.len(), 2);
        // A published copy shares chunks: pushing more does not change it.
        let published = buffer.clone();
        buffer.push(LogLine { source: 0, text: Arc::from("new"), continues: false });
        assert_ne!(published.len(), buffer.len());
    }
}
