//! The admin page's groups: make and delete them, add and remove members. Groups decide who
//! may connect a provider; members that a single sign-on claim brought are marked as such.

use super::Web;
use super::form::Form;
use crate::core::groups;

pub struct GroupRow {
    pub name: String,
    pub members: String,
}

pub async fn rows(web: &Web) -> Vec<GroupRow> {
    let store = web.app.store.as_ref();
    let mut out = Vec::new();
    for g in store.groups().await.unwrap_or_default() {
        let members: Vec<String> = store
            .members(g.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| u.name)
            .collect();
        out.push(GroupRow {
            name: g.name,
            members: members.join(", "),
        });
    }
    out
}

/// The group actions of `POST /admin/ACTION`; `None` for another action.
pub async fn act(web: &Web, action: &str, form: &Form) -> Option<Result<String, String>> {
    let store = web.app.store.as_ref();
    let name = form.get("group").trim();
    let user = form.get("user").trim();
    let words = |e: groups::GroupError| e.to_string();
    Some(match action {
        "group-create" => groups::create(store, name)
            .await
            .map(|g| format!("Group {} made. Add its members below.", g.name))
            .map_err(words),
        "group-delete" => match groups::find(store, name).await {
            Ok(g) => store
                .delete_group(g.id)
                .await
                .map(|()| format!("Group {} deleted; its members are users as before.", g.name))
                .map_err(|e| e.to_string()),
            Err(e) => Err(words(e)),
        },
        "group-add" | "group-remove" => {
            let (add, remove) = if action == "group-add" {
                (vec![user.to_string()], Vec::new())
            } else {
                (Vec::new(), vec![user.to_string()])
            };
            groups::change_members(store, name, &add, &remove)
                .await
                .map(|m| {
                    let names: Vec<String> = m.into_iter().map(|u| u.name).collect();
                    format!(
                        "Members of {name}: {}.",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )
                })
                .map_err(words)
        }
        _ => return None,
    })
}
