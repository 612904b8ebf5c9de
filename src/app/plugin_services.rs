//! The app's side of the plugin API: plugin handlers' Kubernetes and HTTP calls go to the
//! backend's gateway, their secrets to the keyring, and what needs the window (a write to
//! confirm, a notice, a place to open) to an inbox the UI thread reads each frame. Methods run
//! on plugin handler threads and may wait; the UI thread only takes from the inbox.

use crate::plugins::services::{
    Answer, HostServices, HttpRequest, HttpResponse, KubeRequest, OpenTarget, Prompt, SecretOp,
};
use klieg_model::CellTone;
use klieg_model::registry::CommandContext;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

/// Notices shown at once at most (older ones give way).
pub const MAX_NOTICES: usize = 5;
/// Writes waiting for an answer at most; more are declined at once.
pub const MAX_PROMPTS: usize = 8;

/// A plugin's notice, shown for a while in the window's corner.
#[derive(Clone, Debug)]
pub struct Notice {
    pub plugin: String,
    pub text: String,
    pub tone: CellTone,
    pub at: Instant,
}

/// A write waiting for the user's answer.
pub struct PendingPrompt {
    pub prompt: Prompt,
    pub reply: SyncSender<Answer>,
}

/// What plugin handlers left for the window.
#[derive(Default)]
pub struct Inbox {
    pub prompts: VecDeque<PendingPrompt>,
    pub notices: VecDeque<Notice>,
    pub opens: Vec<OpenTarget>,
}

pub type SharedInbox = Arc<Mutex<Inbox>>;

pub struct AppServices {
    pub inbox: SharedInbox,
    pub ctx: egui::Context,
    pub gateway: crate::backend::plugin_calls::PluginGateway,
    pub secrets: crate::backend::credentials::Secrets,
}

/// A plugin's watch, held in the backend's subscription pool.
struct BackendWatch(crate::backend::plugin_watch::PluginWatch);

impl crate::plugins::services::WatchStream for BackendWatch {
    fn next(&mut self, patience: std::time::Duration) -> Option<serde_json::Value> {
        self.0.next(patience)
    }
}

impl HostServices for AppServices {
    fn run_command(
        &self,
        request: crate::plugins::services::CommandRequest,
    ) -> Result<crate::plugins::services::CommandOutput, String> {
        self.gateway.run_command(request)
    }

    fn watch(&self, request: KubeRequest) -> Result<Box<dyn crate::plugins::services::WatchStream>, String> {
        let cluster = request.cluster.ok_or_else(|| rust_i18n::t!("backend.plugin_no_cluster").into_owned())?;
        let watch = self.gateway.watch(cluster, request.kind, request.namespace)?;
        Ok(Box::new(BackendWatch(watch)))
    }

    fn kube(&self, request: KubeRequest, _: &CommandContext) -> Result<serde_json::Value, String> {
        self.gateway.kube(request)
    }

    fn http(&self, request: HttpRequest, max_bytes: usize) -> Result<HttpResponse, String> {
        self.gateway.http(request, max_bytes)
    }

    fn confirm(&self, prompt: Prompt) -> Answer {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        {
            let mut inbox = self.inbox.lock();
            if inbox.prompts.len() >= MAX_PROMPTS {
                return Answer::No;
            }
            inbox.prompts.push_back(PendingPrompt { prompt, reply });
        }
        self.ctx.request_repaint();
        answer.recv_timeout(crate::plugins::limits::PROMPT_TIMEOUT).unwrap_or(Answer::No)
    }

    fn notify(&self, plugin_name: &str, text: &str, tone: CellTone) {
        let mut inbox = self.inbox.lock();
        if inbox.notices.len() >= MAX_NOTICES {
            inbox.notices.pop_front();
        }
        let notice = Notice { plugin: plugin_name.to_string(), text: text.to_string(), tone, at: Instant::now() };
        inbox.notices.push_back(notice);
        drop(inbox);
        self.ctx.request_repaint();
    }

    fn clipboard(&self, text: &str) {
        self.ctx.copy_text(text.to_string());
        self.ctx.request_repaint();
    }

    fn open(&self, target: OpenTarget) {
        self.inbox.lock().opens.push(target);
        self.ctx.request_repaint();
    }

    fn secret(&self, entry: &str, op: SecretOp) -> Result<Option<String>, String> {
        use crate::backend::credentials::CredentialError;
        let store = &self.secrets.0;
        match op {
            SecretOp::Get => match store.get(entry) {
                Ok(secret) => Ok(Some(secret)),
                Err(CredentialError::Missing(_)) => Ok(None),
                Err(error) => Err(error.to_string()),
            },
            SecretOp::Set(secret) => store.set(entry, &secret).map(|()| None).map_err(|e| e.to_string()),
            SecretOp::Delete => store.delete(entry).map(|()| None).map_err(|e| e.to_string()),
        }
    }
}
