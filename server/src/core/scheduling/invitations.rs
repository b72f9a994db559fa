//! Invitations waiting in a user's inbox, and answering one outside a calendar program (the
//! web UI and `kith invitations`): the answer goes into the user's own copy and back to the
//! organizer as a REPLY, as if their calendar program had made it.

use super::deliver::Scheduler;
use super::{addresses, boxes};
use crate::store::{StoreError, User};
use futures_util::StreamExt;
use kith_dav::itip;

/// One invitation (an iTIP REQUEST) in the inbox.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// The inbox message's resource name.
    pub id: String,
    pub uid: String,
    pub summary: String,
    pub organizer: String,
    /// DTSTART as written (with its TZID, if any).
    pub start: String,
    /// The user's answer so far in their own copy.
    pub partstat: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("there is no invitation {0:?} in the inbox")]
    NoInvitation(String),
    #[error("answer accept, tentative or decline, not {0:?}")]
    BadAnswer(String),
    #[error("the invited event is no longer in your calendars (it was deleted)")]
    NoCopy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answers a person gives, as PARTSTAT values.
pub fn partstat(answer: &str) -> Result<&'static str, AnswerError> {
    match answer.to_ascii_lowercase().as_str() {
        "accept" | "accepted" => Ok("ACCEPTED"),
        "tentative" | "maybe" => Ok("TENTATIVE"),
        "decline" | "declined" => Ok("DECLINED"),
        other => Err(AnswerError::BadAnswer(other.to_string())),
    }
}

/// The invitations in `user`'s inbox, newest last, one per event (the latest request).
pub async fn list(sched: &Scheduler<'_>, user: &User) -> Result<Vec<Invitation>, StoreError> {
    let Some(inbox) = boxes::inbox(sched.store, user).await? else {
        return Ok(Vec::new());
    };
    let mine = addresses::of(sched.store, user).await?;
    let mut out: Vec<Invitation> = Vec::new();
    let mut rows = sched.store.objects(inbox.id, true, None);
    while let Some(row) = rows.next().await {
        let o = row?;
        let Some(msg) = std::str::from_utf8(&o.data).ok().and_then(itip::parse) else {
            continue;
        };
        if msg.value("METHOD") != Some("REQUEST") {
            continue;
        }
        let Some(first) = msg.items().next() else {
            continue;
        };
        let uid = first.value("UID").unwrap_or("").to_string();
        let me = mine.iter().find(|a| first.attendee(a).is_some());
        let copy = sched.copy_of(user, &uid).await?;
        let partstat = copy
            .and_then(|(_, c)| std::str::from_utf8(&c.data).ok().and_then(itip::parse))
            .and_then(|c| {
                let f = itip::facts(&c)?;
                me.and_then(|m| f.partstats(m).first().map(|(_, p)| p.clone()))
            })
            .unwrap_or_else(|| "NEEDS-ACTION".into());
        let start = first
            .get("DTSTART")
            .map(|p| p.value.clone())
            .unwrap_or_default();
        out.retain(|i| i.uid != uid);
        out.push(Invitation {
            id: o.meta.name,
            uid,
            summary: first.value("SUMMARY").unwrap_or("(no title)").to_string(),
            organizer: first
                .get("ORGANIZER")
                .map(|p| p.address())
                .unwrap_or_default(),
            start,
            partstat,
        });
    }
    Ok(out)
}

/// Answers the invitation `id` (an inbox message) with `answer`: the user's copy gets the
/// participation, the organizer gets the REPLY, and the event's messages leave the inbox.
pub async fn answer(
    sched: &Scheduler<'_>,
    user: &User,
    id: &str,
    answer: &str,
) -> Result<Invitation, AnswerError> {
    let ps = partstat(answer)?;
    let invitation = list(sched, user)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| AnswerError::NoInvitation(id.to_string()))?;
    let (cal, obj) = sched
        .copy_of(user, &invitation.uid)
        .await?
        .ok_or(AnswerError::NoCopy)?;
    let before = obj.data.clone();
    let mut copy = std::str::from_utf8(&obj.data)
        .ok()
        .and_then(itip::parse)
        .ok_or(AnswerError::NoCopy)?;
    let mine = addresses::of(sched.store, user).await?;
    let Some(me) =
        itip::facts(&copy).and_then(|f| mine.iter().find(|a| f.attendees().contains(a)).cloned())
    else {
        return Err(AnswerError::NoCopy);
    };
    itip::set_partstat(&mut copy, &me, ps);
    let text = copy.to_text();
    if sched
        .store_again(&cal, &obj.meta.name, &copy, &obj.meta.etag)
        .await?
    {
        sched
            .after_put(user, &cal, &obj.meta.name, Some(&before), text.as_bytes())
            .await?;
    }
    // The event's messages are handled.
    if let Some(inbox) = boxes::inbox(sched.store, user).await? {
        let mut rows = sched.store.objects(inbox.id, true, None);
        let mut done = Vec::new();
        while let Some(row) = rows.next().await {
            let o = row?;
            let same = std::str::from_utf8(&o.data)
                .ok()
                .and_then(itip::parse)
                .is_some_and(|m| {
                    m.items()
                        .any(|c| c.value("UID") == Some(invitation.uid.as_str()))
                });
            if same {
                done.push(o.meta.name);
            }
        }
        for name in done {
            sched
                .store
                .delete_object(inbox.id, &name, &|_| true, &super::deliver::actor())
                .await?;
        }
    }
    Ok(Invitation {
        partstat: ps.to_string(),
        ..invitation
    })
}
