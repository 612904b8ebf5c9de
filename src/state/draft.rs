//! The draft of an unsaved edit, as kept on disk so a crash or a closed window loses nothing:
//! the object, the YAML the edit started from, and the user's text. Data only; `app::persist`
//! writes and reads it. UI thread.

use super::EditorState;
use crate::model::{ClusterId, KindKey, ObjectKey, Target};
use std::sync::Arc;

/// An unsaved edit as kept on disk: the object, the YAML it started from and the user's text.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Draft {
    pub cluster: String,
    pub group: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: String,
    pub original: String,
    pub text: String,
    pub saved_unix_secs: i64,
}

impl Draft {
    /// The draft of `editor`, unless there is nothing to keep (no change) or it must not be kept:
    /// a Secret's text holds its values, which never go to disk.
    pub fn of(editor: &EditorState, now_unix_secs: i64) -> Option<Self> {
        let kind = &editor.target.kind;
        Self::keeps(editor).then(|| Draft {
            cluster: editor.target.key.cluster.to_string(),
            group: kind.group.to_string(),
            plural: kind.plural.to_string(),
            namespace: editor.target.key.namespace.as_deref().map(str::to_string),
            name: editor.target.key.name.to_string(),
            original: editor.original.to_string(),
            text: editor.text.clone(),
            saved_unix_secs: now_unix_secs,
        })
    }

    /// Whether `editor` has a draft to keep: changed, and not a Secret.
    pub fn keeps(editor: &EditorState) -> bool {
        let kind = &editor.target.kind;
        let secret = kind.group.is_empty() && &*kind.plural == "secrets";
        editor.is_dirty() && !secret
    }

    pub fn target(&self) -> Target {
        Target {
            kind: KindKey::new(&self.group, &self.plural),
            key: ObjectKey {
                cluster: ClusterId::new(&self.cluster),
                namespace: self.namespace.as_deref().map(Arc::from),
                name: Arc::from(self.name.as_str()),
            },
        }
    }

    /// The editor again, with the user's text over the YAML it started from.
    pub fn editor(&self) -> EditorState {
        let mut editor = EditorState::new(self.target(), Arc::from(self.original.as_str()));
        editor.text.clone_from(&self.text);
        editor.validate();
        editor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor(group: &str, plural: &str) -> EditorState {
        let target = Target {
            kind: KindKey::new(group, plural),
            key: ObjectKey {
                cluster: ClusterId::new("prod"),
                namespace: Some(Arc::from("shop")),
                name: Arc::from("web"),
            },
        };
        EditorState::new(target, Arc::from("data: {a: '1'}\n"))
    }

    #[test]
    fn a_draft_round_trips_and_a_secret_is_never_kept() {
        let mut configmap = editor("", "configmaps");
        assert_eq!(Draft::of(&configmap, 5), None, "nothing changed, nothing kept");
        configmap.text = "data: {a: '2'}\n".into();
        let draft = Draft::of(&configmap, 5).expect("a draft");
        let restored = draft.editor();
        assert_eq!(restored.target, configmap.target);
        assert_eq!(restored.text, configmap.text);
        assert!(restored.is_dirty(), "restored as unsaved, its diff against where it started");
        let mut secret = editor("", "secrets");
        secret.text = "data: {password: aHVudGVyMg==}\n".into();
        assert_eq!(Draft::of(&secret, 5), None);
    }
}
