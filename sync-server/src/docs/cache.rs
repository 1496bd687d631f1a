//! Loaded work documents kept between sync round trips. Its own module, below the store,
//! because the store holds the cache and the document engine (above the store) fills it.

use std::collections::HashMap;

use custody_core::work::WorkDoc;
use uuid::Uuid;

/// Loaded documents kept between round trips. A count session of 10,000 entries is a few MB in
/// memory; a handful of busy documents is what a facility syncs at once.
pub(crate) const DOC_CACHE_CAPACITY: usize = 32;

/// Recently used documents, as loaded. An entry is only trusted while its heads equal the
/// stored heads; a sync takes the documents it works on out of the cache and puts them back only
/// after its transaction committed, so a failed or refused change never lingers here.
pub(crate) struct DocCache {
    entries: HashMap<Uuid, Cached>,
    capacity: usize,
    tick: u64,
}

struct Cached {
    doc: WorkDoc,
    heads: String,
    /// `save_incremental` would return exactly the changes after `heads` (false right after a
    /// load: Automerge's save cursor starts empty).
    cursor_at_heads: bool,
    used: u64,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache { entries: HashMap::new(), capacity: capacity.max(1), tick: 0 }
    }

    /// Removes and returns the document if the cached copy is the stored one.
    pub(crate) fn take(&mut self, id: Uuid, heads: &str) -> Option<(WorkDoc, bool)> {
        let cached = self.entries.remove(&id)?;
        (cached.heads == heads).then_some((cached.doc, cached.cursor_at_heads))
    }

    pub(crate) fn peek(&mut self, id: Uuid, heads: &str) -> Option<WorkDoc> {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(&id) {
            Some(cached) if cached.heads == heads => {
                cached.used = tick;
                Some(cached.doc.clone())
            }
            Some(_) => {
                self.entries.remove(&id);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&mut self, id: Uuid, doc: WorkDoc, heads: String, cursor_at_heads: bool) {
        self.tick += 1;
        self.entries.insert(id, Cached { doc, heads, cursor_at_heads, used: self.tick });
        while self.entries.len() > self.capacity {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, c)| c.used).map(|(id, _)| *id) else { break };
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_core::ids::LicenseNumber;
    use custody_core::work::{DocKind, Writer};

    fn lic() -> LicenseNumber {
        LicenseNumber::parse("C11-0000001-LIC").unwrap()
    }

    #[test]
    fn cache_evicts_the_least_recently_used_and_distrusts_other_heads() {
        let mut cache = DocCache::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for id in &ids[..2] {
            cache.put(*id, WorkDoc::empty(*id, DocKind::Adjustment, lic(), Writer::Server(Uuid::now_v7())), "h".into(), true);
        }
        assert!(cache.peek(ids[0], "h").is_some());
        cache.put(ids[2], WorkDoc::empty(ids[2], DocKind::Adjustment, lic(), Writer::Server(Uuid::now_v7())), "h".into(), true);
        assert_eq!(cache.len(), 2);
        assert!(cache.peek(ids[1], "h").is_none(), "least recently used is gone");
        assert!(cache.take(ids[0], "other").is_none(), "a copy at other heads is not trusted");
        assert!(cache.peek(ids[0], "h").is_none(), "and is dropped");
        assert!(cache.take(ids[2], "h").is_some());
    }
}
