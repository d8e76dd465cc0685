//! The per-client-address connection cap: how many RTMP connections one address may hold at
//! once. IPv6 clients are grouped by /64, the block one subscriber usually gets, so rotating
//! through addresses of one's own block does not escape the cap.
//!
//! The table holds an entry only while its address has a connection open, so it never has
//! more entries than there are open connections (bounded by `rtmp.max_connections`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use ferrocast_ops::LiveGuard;

use crate::metrics;

/// The address a client is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by
/// its /64 prefix.
pub(crate) fn address_group(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// Open connections per address group.
#[derive(Debug)]
pub(crate) struct PerAddressLimit {
    limit: usize,
    open: Mutex<HashMap<IpAddr, Open>>,
}

#[derive(Debug)]
struct Open {
    connections: usize,
    /// Counts the entry in the table-size gauge while it exists.
    _counted: LiveGuard,
}

/// One admitted connection of an address; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    table: Arc<PerAddressLimit>,
    group: IpAddr,
}

impl PerAddressLimit {
    /// At most `limit` (at least one) connections per address group.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        debug_assert!(limit > 0, "a limit of zero is no limit: build no table");
        Arc::new(Self {
            limit,
            open: Mutex::default(),
        })
    }

    /// Takes a place for a connection from `address`, or `None` if its group holds `limit`.
    pub(crate) fn try_admit(self: &Arc<Self>, address: IpAddr) -> Option<AddressSlot> {
        let group = address_group(address);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.entry(group) {
            Entry::Occupied(mut entry) => {
                let entry = entry.get_mut();
                if entry.connections >= self.limit {
                    return None;
                }
                entry.connections += 1;
            }
            Entry::Vacant(entry) => {
                entry.insert(Open {
                    connections: 1,
                    _counted: metrics::CLIENT_ADDRESSES.enter(),
                });
            }
        }
        Some(AddressSlot {
            table: self.clone(),
            group,
        })
    }

    /// Address groups with a connection open now.
    #[cfg(test)]
    fn groups(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Entry::Occupied(mut entry) = open.entry(self.group) {
            entry.get_mut().connections -= 1;
            if entry.get().connections == 0 {
                entry.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_connection_over_the_limit_is_refused_until_one_closes() {
        let table = PerAddressLimit::new(2);
        let first = table.try_admit(ip("203.0.113.7")).unwrap();
        let _second = table.try_admit(ip("203.0.113.7")).unwrap();
        assert!(table.try_admit(ip("203.0.113.7")).is_none());
        assert!(
            table.try_admit(ip("198.51.100.9")).is_some(),
            "others are not affected"
        );
        drop(first);
        assert!(table.try_admit(ip("203.0.113.7")).is_some());
    }

    #[test]
    fn entries_leave_the_table_with_their_last_connection() {
        let table = PerAddressLimit::new(3);
        let slots: Vec<_> = (0..200)
            .map(|i| table.try_admit(IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8])))
            .collect();
        assert_eq!(table.groups(), 200);
        drop(slots);
        assert_eq!(table.groups(), 0);
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            address_group(ip("2001:db8:1:2:aaaa::1")),
            address_group(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            address_group(ip("2001:db8:1:2::1")),
            address_group(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_group(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        let table = PerAddressLimit::new(1);
        let _held = table.try_admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(table.try_admit(ip("2001:db8:1:2::99")).is_none());
        let _v4 = table.try_admit(ip("203.0.113.7")).unwrap();
        assert!(table.try_admit(ip("::ffff:203.0.113.7")).is_none());
    }
}
