//! Klieg's own files that hold the user's work: the settings, the draft of an unsaved edit, and
//! crash reports. Each is written whole to a temporary file beside it, flushed to disk and moved
//! into place (so a crash mid-write leaves the old file or the new one, never half of one), with
//! private modes. Writes run on a thread of their own; the UI thread only hands over bytes. The
//! panic hook writes the draft itself, synchronously, as the process goes down.

use crate::model::Target;
use crate::state::{Draft, Settings, UiState};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The settings file, in Klieg's config folder.
pub const SETTINGS_FILE: &str = "settings.json";
/// The draft of the edit in progress, in Klieg's state folder.
pub const DRAFT_FILE: &str = "draft.json";
/// How often, at most, a draft is written while the user types.
pub const DRAFT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Format { path: PathBuf, source: serde_json::Error },
}

/// Writes `bytes` to `path` whole (see `files::write_atomic`). Blocking.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    crate::backend::files::write_atomic(path, bytes)
        .map_err(|source| PersistError::Io { path: path.to_path_buf(), source })
}

/// Where Klieg keeps its files; `None` parts are not kept at all (tests, a home without folders).
#[derive(Clone, Debug, Default)]
pub struct Places {
    pub config_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

impl Places {
    /// The platform's folders: `$XDG_CONFIG_HOME/klieg` and `$XDG_STATE_HOME/klieg` on Linux.
    pub fn standard() -> Self {
        Self {
            config_dir: dirs::config_dir().map(|d| d.join("klieg")),
            state_dir: dirs::state_dir().or_else(dirs::data_local_dir).map(|d| d.join("klieg")),
        }
    }

    pub fn settings_file(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join(SETTINGS_FILE))
    }

    pub fn draft_file(&self) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|d| d.join(DRAFT_FILE))
    }

    pub fn crash_dir(&self) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|d| d.join("crashes"))
    }
}

/// The settings saved in `path`; `Ok(None)` when there are none yet.
pub fn load_settings(path: &Path) -> Result<Option<Settings>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| PersistError::Format { path: path.to_path_buf(), source }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io { path: path.to_path_buf(), source }),
    }
}

/// The draft saved in `path`, if there is one that can be read.
pub fn load_draft(path: &Path) -> Option<Draft> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).inspect_err(|error| tracing::warn!(%error, "the saved draft is unreadable")).ok()
}

/// Files waiting to be written (`Some`) or removed (`None`), at most one entry per path.
#[derive(Default)]
struct Pending {
    jobs: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// The thread is writing a batch taken from `jobs`.
    busy: bool,
}

#[derive(Default)]
struct Shared {
    pending: parking_lot::Mutex<Pending>,
    changed: parking_lot::Condvar,
}

/// The thread that writes files for the UI. What waits is one entry per file (a newer write
/// replaces an older one not yet written), so the queue is bounded by the files Klieg keeps, and
/// handing over never blocks on the disk.
#[derive(Clone)]
pub struct Persister {
    shared: Arc<Shared>,
}

impl Persister {
    pub fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        std::thread::Builder::new().name("klieg-persist".into()).spawn(move || {
            loop {
                let batch = {
                    let mut pending = worker.pending.lock();
                    while pending.jobs.is_empty() {
                        worker.changed.wait(&mut pending);
                    }
                    pending.busy = true;
                    std::mem::take(&mut pending.jobs)
                };
                run_batch(batch);
                worker.pending.lock().busy = false;
                worker.changed.notify_all();
            }
        })?;
        Ok(Self { shared })
    }

    fn hand_over(&self, path: PathBuf, bytes: Option<Vec<u8>>) {
        let mut pending = self.shared.pending.lock();
        pending.jobs.retain(|(p, _)| *p != path);
        pending.jobs.push((path, bytes));
        self.shared.changed.notify_all();
    }

    pub fn write(&self, path: PathBuf, bytes: Vec<u8>) {
        self.hand_over(path, Some(bytes));
    }

    pub fn remove(&self, path: PathBuf) {
        self.hand_over(path, None);
    }

    /// Waits (up to 10 s) until everything handed over so far is on disk (at exit, and in tests).
    pub fn flush(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut pending = self.shared.pending.lock();
        while !pending.jobs.is_empty() || pending.busy {
            if self.shared.changed.wait_until(&mut pending, deadline).timed_out() {
                return;
            }
        }
    }
}

fn run_batch(batch: Vec<(PathBuf, Option<Vec<u8>>)>) {
    for (path, bytes) in batch {
        let outcome = match bytes {
            Some(bytes) => write_atomic(&path, &bytes),
            None => match std::fs::remove_file(&path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(PersistError::Io { path: path.clone(), source: error })
                }
                _ => Ok(()),
            },
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, "could not save");
        }
    }
}

/// What the app keeps on disk, and what it last handed over, so each frame writes only changes.
pub struct Persistence {
    places: Places,
    persister: Persister,
    saved_settings: Option<Settings>,
    /// The newest draft's bytes, for the panic hook.
    draft_slot: DraftSlot,
    /// The object and text of the newest draft in `draft_slot` (`None`: no draft file of ours),
    /// compared each frame instead of serialising the editor again.
    slotted: Option<(Target, String)>,
    /// The newest draft is not on disk yet.
    disk_behind: bool,
    last_draft_write: Option<std::time::Instant>,
}

impl Persistence {
    /// Keeps files in `places`, writing on a thread of its own. The draft found there (from a
    /// session that crashed or was closed with an unsaved edit) is returned, to be offered.
    pub fn start(places: Places) -> std::io::Result<(Self, Option<Draft>)> {
        let recovered = places.draft_file().and_then(|path| load_draft(&path));
        let persistence = Self {
            places,
            persister: Persister::start()?,
            saved_settings: None,
            draft_slot: DraftSlot::default(),
            slotted: recovered.as_ref().map(|d| (d.target(), d.text.clone())),
            disk_behind: false,
            last_draft_write: None,
        };
        Ok((persistence, recovered))
    }

    pub fn places(&self) -> &Places {
        &self.places
    }

    pub fn draft_slot(&self) -> DraftSlot {
        self.draft_slot.clone()
    }

    /// Saves what changed this frame: the settings (at once) and the draft of a dirty editor (at
    /// most every `DRAFT_INTERVAL`; the returned delay asks for the frame that writes the rest).
    /// A draft no longer wanted (applied, discarded, closed) is removed, unless a recovered one
    /// is still on offer.
    pub fn frame(&mut self, state: &UiState, now_unix_secs: i64) -> Option<std::time::Duration> {
        if self.saved_settings.as_ref() != Some(&state.settings) {
            if let (Some(path), Ok(bytes)) = (self.places.settings_file(), serde_json::to_vec_pretty(&state.settings)) {
                self.persister.write(path, bytes);
            }
            self.saved_settings = Some(state.settings.clone());
        }
        let path = self.places.draft_file()?;
        let Some(editor) = state.editor.as_ref().filter(|editor| Draft::keeps(editor)) else {
            if state.recovered_draft.is_none() && self.slotted.take().is_some() {
                self.persister.remove(path);
                *self.draft_slot.lock() = None;
                self.disk_behind = false;
            }
            return None;
        };
        let newest = |(target, text): &(Target, String)| *target == editor.target && *text == editor.text;
        if !self.slotted.as_ref().is_some_and(newest) {
            // A change: the panic hook gets it at once, the disk within `DRAFT_INTERVAL`.
            let bytes = serde_json::to_vec(&Draft::of(editor, now_unix_secs)?).ok()?;
            *self.draft_slot.lock() = Some(bytes);
            self.slotted = Some((editor.target.clone(), editor.text.clone()));
            self.disk_behind = true;
        }
        if !self.disk_behind {
            return None;
        }
        let since = self.last_draft_write.map(|at| at.elapsed());
        if let Some(since) = since.filter(|since| *since < DRAFT_INTERVAL) {
            return Some(DRAFT_INTERVAL - since);
        }
        let bytes = self.draft_slot.lock().clone()?;
        self.persister.write(path, bytes);
        self.disk_behind = false;
        self.last_draft_write = Some(std::time::Instant::now());
        None
    }

    /// Forgets the recovered draft's file (the user discarded it).
    pub fn discard_draft(&mut self) {
        if let Some(path) = self.places.draft_file() {
            self.persister.remove(path);
        }
        self.slotted = None;
        self.disk_behind = false;
    }

    /// Waits until everything handed over is on disk.
    pub fn flush(&self) {
        self.persister.flush();
    }
}

/// What the panic hook saves: the newest draft, as the UI last handed it over.
pub type DraftSlot = Arc<parking_lot::Mutex<Option<Vec<u8>>>>;

/// Installs a panic hook that writes the newest draft (if any) and a crash report: the panic's
/// message, where it happened, the thread and a backtrace, with Klieg's version. Nothing else
/// of the session goes in: no settings, no objects, no credentials.
pub fn install_panic_hook(places: &Places, draft: DraftSlot) {
    let (draft_file, crash_dir) = (places.draft_file(), places.crash_dir());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let (Some(path), Some(bytes)) = (&draft_file, draft.try_lock().and_then(|d| d.clone())) {
            let _ = write_atomic(path, &bytes);
        }
        if let Some(dir) = &crash_dir {
            let report = crash_report(info);
            let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
            let _ = write_atomic(&dir.join(format!("crash-{stamp}.txt")), report.as_bytes());
        }
        previous(info);
    }));
}

fn crash_report(info: &std::panic::PanicHookInfo<'_>) -> String {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
    let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
    let backtrace = std::backtrace::Backtrace::force_capture();
    format!(
        "Klieg {} crashed\nthread: {thread}\nat: {location}\nmessage: {message}\n\nbacktrace:\n{backtrace}\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_persister_writes_the_newest_and_removes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let persister = Persister::start().expect("thread");
        let path = dir.path().join("a.json");
        for i in 0..50 {
            persister.write(path.clone(), format!("{i}").into_bytes());
        }
        persister.flush();
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "49");
        persister.remove(path.clone());
        persister.flush();
        assert!(!path.exists());
    }

    #[test]
    fn settings_missing_or_broken_are_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SETTINGS_FILE);
        assert!(matches!(load_settings(&path), Ok(None)));
        let settings = Settings { kind_plural: "deployments".into(), ..Settings::default() };
        write_atomic(&path, &serde_json::to_vec(&settings).expect("json")).expect("written");
        assert_eq!(load_settings(&path).expect("read"), Some(settings));
        std::fs::write(&path, b"{ half").expect("write");
        assert!(matches!(load_settings(&path), Err(PersistError::Format { .. })));
    }

    /// The child half of the panic test: installs the hook over a folder and panics.
    #[test]
    #[ignore = "run in a child process by a_panic_writes_the_draft_and_a_crash_report"]
    fn panicking_child() {
        let Some(dir) = std::env::var_os("KLIEG_PANIC_TEST_DIR") else { return };
        let places = Places { config_dir: None, state_dir: Some(PathBuf::from(dir)) };
        let slot = DraftSlot::default();
        *slot.lock() = Some(br#"{"text": "my unsaved edit"}"#.to_vec());
        install_panic_hook(&places, slot);
        panic!("the window broke");
    }

    #[test]
    fn a_panic_writes_the_draft_and_a_crash_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = std::env::current_exe().expect("the test binary");
        let output = std::process::Command::new(exe)
            .args(["--ignored", "--exact", "app::persist::tests::panicking_child", "--test-threads=1"])
            .env("KLIEG_PANIC_TEST_DIR", dir.path())
            .output()
            .expect("the child runs");
        assert!(!output.status.success(), "the child panicked");
        let draft = std::fs::read_to_string(dir.path().join(DRAFT_FILE)).expect("the draft was saved");
        assert!(draft.contains("my unsaved edit"));
        let reports: Vec<PathBuf> =
            std::fs::read_dir(dir.path().join("crashes")).expect("crash folder").flatten().map(|e| e.path()).collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        let report = std::fs::read_to_string(&reports[0]).expect("report");
        assert!(report.contains("message: the window broke") && report.contains("backtrace:"), "{report}");
        assert!(!report.contains("my unsaved edit"), "the draft's text is not in the report");
    }
}
