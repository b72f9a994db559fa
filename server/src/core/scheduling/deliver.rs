//! Implicit scheduling (RFC 6638 §3.2): after a client writes or deletes a scheduling object
//! in one of its owner's calendars, Kith tells the others what it means. An organizer's
//! change sends a REQUEST to each attendee it concerns (and a CANCEL to those taken off); an
//! attendee's change of participation sends a REPLY to the organizer, applied to the
//! organizer's copy. Local users get the message in their inbox and their copy in their own
//! calendar; others get mail (iMIP) when a mail server is set up. SCHEDULE-STATUS on the
//! organizer's ATTENDEE lines says what happened to each.
//!
//! Only a client's writes schedule: what scheduling itself stores (copies, replies applied,
//! statuses) is written straight to the store and never schedules again.

use super::{addresses, boxes};
use crate::config::Config;
use crate::core::objects::prepare;
use crate::store::{Actor, Collection, Kind, NewObject, Object, Store, StoreError, User, etag_for};
use async_trait::async_trait;
use kith_dav::itip::{self, Comp};
use std::collections::HashMap;
use std::sync::Arc;

/// Mail to calendar users outside Kith (iMIP, RFC 6047), supplied by the layer that sends
/// mail.
#[async_trait]
pub trait Imip: Send + Sync {
    /// Whether a mail server is set up at all.
    fn configured(&self) -> bool;
    /// Mails the iTIP message `ical` (its METHOD says what it is) from `from` to `to`.
    async fn send(&self, from: &str, from_name: &str, to: &str, ical: &str) -> Result<(), String>;
}

/// RFC 6638 §3.2.9 request statuses, as SCHEDULE-STATUS carries them.
const DELIVERED: &str = "1.2";
const SENT: &str = "1.1";
const NOT_DELIVERED: &str = "5.1";

/// The most attendees one write schedules for: a meeting is not a mailing list, and one PUT
/// must not turn into unbounded work. Those past it get nothing and no status.
pub const MAX_ATTENDEES: usize = 250;

pub(super) fn actor() -> Actor {
    Actor::Command("scheduling".into())
}

fn parse(data: &[u8]) -> Option<Comp> {
    itip::parse(std::str::from_utf8(data).ok()?)
}

pub struct Scheduler<'a> {
    pub store: &'a dyn Store,
    pub config: &'a Config,
    pub imip: Arc<dyn Imip>,
}

impl Scheduler<'_> {
    /// After a client stored `new` (replacing `old`) as `name` in `owner`'s calendar `cal`.
    /// Returns whether the object was stored again (SCHEDULE-STATUS written back), so the
    /// client's ETag is no longer the stored one.
    pub async fn after_put(
        &self,
        owner: &User,
        cal: &Collection,
        name: &str,
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let Some(new_cal) = parse(new) else {
            return Ok(false);
        };
        let old_cal = old.and_then(parse);
        let mine = addresses::of(self.store, owner).await?;
        let Some(f) = itip::facts(&new_cal) else {
            // Every attendee taken off: they are told it is off.
            if let Some(o) = old_cal.as_ref()
                && let Some(of) = itip::facts(o)
                && mine.contains(&of.organizer)
            {
                self.cancel_all(owner, o, &of).await?;
            }
            return Ok(false);
        };
        if mine.contains(&f.organizer) {
            if f.organizer_agent != "SERVER" {
                return Ok(false);
            }
            return self
                .organizer_put(owner, cal, name, &new_cal, old_cal.as_ref(), &f, new)
                .await;
        }
        if let Some(me) = mine.iter().find(|a| f.attendees().contains(a)) {
            let before = old_cal
                .as_ref()
                .and_then(itip::facts)
                .map(|o| o.partstats(me))
                .unwrap_or_default();
            let now = f.partstats(me);
            let fresh = old_cal.is_none() && now.iter().all(|(_, p)| p == "NEEDS-ACTION");
            if now != before
                && !fresh
                && f.server_schedules(me)
                && let Some(reply) = itip::reply(&new_cal, me, None)
            {
                self.reply_to(owner, me, &f, &reply).await?;
            }
        }
        Ok(false)
    }

    /// After a client deleted `old` from `owner`'s calendar. `schedule_reply` is false when
    /// the request said `Schedule-Reply: F` (the attendee declines without telling).
    pub async fn after_delete(
        &self,
        owner: &User,
        old: &[u8],
        schedule_reply: bool,
    ) -> Result<(), StoreError> {
        let Some(cal) = parse(old) else {
            return Ok(());
        };
        let Some(f) = itip::facts(&cal) else {
            return Ok(());
        };
        let mine = addresses::of(self.store, owner).await?;
        if mine.contains(&f.organizer) {
            if f.organizer_agent == "SERVER" {
                self.cancel_all(owner, &cal, &f).await?;
            }
        } else if let Some(me) = mine.iter().find(|a| f.attendees().contains(a))
            && schedule_reply
            && f.server_schedules(me)
            && let Some(reply) = itip::reply(&cal, me, Some("DECLINED"))
        {
            self.reply_to(owner, me, &f, &reply).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn organizer_put(
        &self,
        owner: &User,
        cal: &Collection,
        name: &str,
        new_cal: &Comp,
        old_cal: Option<&Comp>,
        f: &itip::Facts,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let old_f = old_cal
            .and_then(itip::facts)
            .filter(|o| o.organizer == f.organizer);
        let was = |a: &str| {
            old_f
                .as_ref()
                .is_some_and(|o| o.attendees().iter().any(|x| x == a))
        };
        let mut status: HashMap<String, &'static str> = HashMap::new();
        for a in f.attendees().into_iter().take(MAX_ATTENDEES) {
            if !f.server_schedules(&a) {
                continue;
            }
            let req = itip::request(new_cal, Some(&a));
            // Occurrences newly changed without them: those are off, for them.
            let before = old_cal
                .filter(|_| was(&a))
                .map(|o| itip::left_out(o, &a))
                .unwrap_or_default();
            let off: Vec<String> = itip::left_out(new_cal, &a)
                .into_iter()
                .filter(|r| !before.contains(r))
                .collect();
            if let Some(c) = itip::cancel_occurrences(new_cal, &a, &off) {
                let code = self.send(owner, &f.organizer, &a, &c).await?;
                status.insert(a.clone(), code);
            }
            if let Some(o) = old_cal.filter(|_| was(&a))
                && !itip::differs(&itip::request(o, Some(&a)), &req)
            {
                continue;
            }
            let code = self.send(owner, &f.organizer, &a, &req).await?;
            status.insert(a, code);
        }
        if let (Some(o), Some(of)) = (old_cal, &old_f) {
            for a in of.attendees() {
                if !f.attendees().contains(&a)
                    && of.server_schedules(&a)
                    && let Some(c) = itip::cancel(o, &a, None)
                {
                    self.send(owner, &f.organizer, &a, &c).await?;
                }
            }
        }
        let mut updated = new_cal.clone();
        if status.is_empty() || !itip::set_status(&mut updated, &|a| status.get(a).copied()) {
            return Ok(false);
        }
        self.store_again(cal, name, &updated, &etag_for(new)).await
    }

    async fn cancel_all(
        &self,
        owner: &User,
        cal: &Comp,
        f: &itip::Facts,
    ) -> Result<(), StoreError> {
        for a in f.attendees().into_iter().take(MAX_ATTENDEES) {
            if f.server_schedules(&a)
                && let Some(c) = itip::cancel(cal, &a, None)
            {
                self.send(owner, &f.organizer, &a, &c).await?;
            }
        }
        Ok(())
    }

    /// Delivers `msg` from the organizer `from_addr` (user `from`) to the attendee `to`; the
    /// SCHEDULE-STATUS for them.
    async fn send(
        &self,
        from: &User,
        from_addr: &str,
        to: &str,
        msg: &Comp,
    ) -> Result<&'static str, StoreError> {
        match addresses::user_for(self.store, to).await? {
            Some(u) if u.id == from.id => Ok(DELIVERED),
            Some(u) => {
                self.deliver(&u, to, msg).await?;
                Ok(DELIVERED)
            }
            None => Ok(self.mail(from, from_addr, to, msg)),
        }
    }

    /// Mails `msg` in the background (a mail server must not hold up the client's PUT); the
    /// status is "sent", or "not delivered" with no mail server.
    fn mail(&self, from: &User, from_addr: &str, to: &str, msg: &Comp) -> &'static str {
        if !self.imip.configured() {
            return NOT_DELIVERED;
        }
        let (imip, from_addr, name, to, text) = (
            self.imip.clone(),
            from_addr.to_string(),
            from.name.clone(),
            to.to_string(),
            msg.to_text(),
        );
        tokio::spawn(async move {
            if let Err(e) = imip.send(&from_addr, &name, &to, &text).await {
                tracing::warn!(error = %e, to = %to, "an invitation could not be mailed");
            }
        });
        SENT
    }

    /// Puts the iTIP message `msg` in `user`'s inbox, as a new member.
    async fn to_inbox(&self, user: &User, msg: &Comp) -> Result<(), StoreError> {
        let Some(inbox) = boxes::inbox(self.store, user).await? else {
            return Ok(());
        };
        let text = msg.to_text();
        let name = format!(
            "{:016x}{:016x}.ics",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let etag = etag_for(text.as_bytes());
        let obj = NewObject {
            name: &name,
            // Messages about one event share its UID; in the inbox each is its own.
            uid: &name,
            etag: &etag,
            content_type: "text/calendar; charset=utf-8",
            data: text.as_bytes(),
            index: Vec::new(),
            span: None,
        };
        self.store
            .put_object(inbox.id, &obj, &|_| true, &actor())
            .await?;
        Ok(())
    }

    /// Puts `msg` in `user`'s inbox, and brings their own copy of the object up to date.
    async fn deliver(&self, user: &User, addr: &str, msg: &Comp) -> Result<(), StoreError> {
        self.to_inbox(user, msg).await?;
        let uid = msg.items().find_map(|c| c.value("UID")).unwrap_or("");
        let found = self.copy_of(user, uid).await?;
        match msg.value("METHOD") {
            Some("REQUEST") => {
                let previous = found.as_ref().and_then(|(_, o)| parse(&o.data));
                let mut copy = itip::attendee_copy(msg, previous.as_ref(), addr);
                itip::stamp_tag(&mut copy);
                match found {
                    Some((cal, o)) => {
                        self.store_again(&cal, &o.meta.name, &copy, &o.meta.etag)
                            .await?;
                    }
                    None => {
                        if let Some(cal) = boxes::default_calendar(self.store, user).await? {
                            let name = format!("{}.ics", safe_name(uid));
                            self.store_new(&cal, &name, &copy).await?;
                        }
                    }
                }
            }
            Some("CANCEL") => {
                if let Some((cal, o)) = found
                    && let Some(mut copy) = parse(&o.data)
                {
                    cancel_in(&mut copy, msg);
                    self.store_again(&cal, &o.meta.name, &copy, &o.meta.etag)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `from` (as `me`) answers the organizer of `f` with `reply`.
    async fn reply_to(
        &self,
        from: &User,
        me: &str,
        f: &itip::Facts,
        reply: &Comp,
    ) -> Result<(), StoreError> {
        match addresses::user_for(self.store, &f.organizer).await? {
            Some(org) if org.id != from.id => {
                if let Some((cal, o)) = self.copy_of(&org, &f.uid).await?
                    && let Some(mut copy) = parse(&o.data)
                    && itip::apply_reply(&mut copy, reply)
                {
                    self.store_again(&cal, &o.meta.name, &copy, &o.meta.etag)
                        .await?;
                }
                self.to_inbox(&org, reply).await?;
            }
            Some(_) => {}
            None => {
                self.mail(from, me, &f.organizer, reply);
            }
        }
        Ok(())
    }

    /// `user`'s own copy of the object `uid`: the calendar and the object.
    pub(super) async fn copy_of(
        &self,
        user: &User,
        uid: &str,
    ) -> Result<Option<(Collection, Object)>, StoreError> {
        if uid.is_empty() {
            return Ok(None);
        }
        for cal in self.store.collections(user.id, Kind::Calendar).await? {
            if cal.derived.is_some() {
                continue;
            }
            if let Some(o) = self.store.object_by_uid(cal.id, uid).await? {
                return Ok(Some((cal, o)));
            }
        }
        Ok(None)
    }

    /// Stores `comp` over `name` in `cal` if it still has ETag `etag`; whether it did.
    pub(super) async fn store_again(
        &self,
        cal: &Collection,
        name: &str,
        comp: &Comp,
        etag: &str,
    ) -> Result<bool, StoreError> {
        self.write(cal, name, comp, Some(etag)).await
    }

    async fn store_new(
        &self,
        cal: &Collection,
        name: &str,
        comp: &Comp,
    ) -> Result<bool, StoreError> {
        self.write(cal, name, comp, None).await
    }

    async fn write(
        &self,
        cal: &Collection,
        name: &str,
        comp: &Comp,
        etag: Option<&str>,
    ) -> Result<bool, StoreError> {
        let data = comp.to_text().into_bytes();
        let tag = etag_for(&data);
        let prepared = match prepare(self.config, cal, name, data, tag) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, calendar = %cal.name, "a scheduling copy could not be stored");
                return Ok(false);
            }
        };
        let want = etag.map(str::to_string);
        let check = move |current: Option<&str>| current.map(str::to_string) == want;
        let done = self
            .store
            .put_object(cal.id, &prepared.as_new(), &check, &actor())
            .await?;
        Ok(matches!(
            done,
            crate::store::PutOutcome::Created | crate::store::PutOutcome::Updated
        ))
    }
}

/// A resource name from a UID: what is safe in a URL segment, the rest replaced.
fn safe_name(uid: &str) -> String {
    let s: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if s.is_empty() { "event".into() } else { s }
}

/// Marks what a CANCEL calls off in an attendee's copy: the named instances, or everything.
fn cancel_in(copy: &mut Comp, cancel: &Comp) {
    let rids: Vec<Option<String>> = cancel
        .items()
        .map(|c| c.instance().map(str::to_string))
        .collect();
    let all = rids.contains(&None);
    let mut unmatched: Vec<String> = rids.iter().flatten().cloned().collect();
    for c in copy
        .subs
        .iter_mut()
        .filter(|c| c.name == "VEVENT" || c.name == "VTODO")
    {
        let rid = c.instance().map(str::to_string);
        if all || rids.contains(&rid) {
            c.props.retain(|p| p.name != "STATUS");
            c.push("STATUS", "", "CANCELLED");
            unmatched.retain(|r| Some(r) != rid.as_ref());
        }
    }
    // An occurrence with no override of its own leaves the series.
    if !all
        && let Some(master) = copy
            .subs
            .iter_mut()
            .find(|c| (c.name == "VEVENT" || c.name == "VTODO") && c.instance().is_none())
    {
        for rid in unmatched {
            master.push("EXDATE", "", &rid);
        }
    }
}
