//! Carving subnet CIDRs out of the VPC CIDR: a pure, deterministic function.
//!
//! Each tier owns a block of [`AZ_SLOTS`] subnets of its size (AZ *i* always gets slot *i*),
//! placed first-fit at its own alignment in the order of the tiers' `slot` numbers. So:
//! - adding an AZ never moves an existing subnet (its slot was reserved from the start);
//! - adding a tier with a higher slot never moves an existing tier;
//! - subnets never overlap and always lie inside the VPC.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Subnet positions reserved per tier: one per possible AZ (at most 6), rounded up to a power
/// of two so a tier's block is itself a CIDR block.
pub const AZ_SLOTS: u32 = 8;

/// One tier's layout input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLayout {
    /// The tier's name (`public`).
    pub name: String,
    /// Its position in the allocation order; never change it once deployed.
    pub slot: u8,
    /// The prefix length of each of its subnets (`/24` = 24).
    pub prefix: u8,
}

/// A carved tier: its block and the subnet of each AZ index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarvedTier {
    /// The tier's name.
    pub name: String,
    /// The block reserved for the tier.
    pub block: Ipv4Net,
    /// Subnet `i` is for AZ `i` (all [`AZ_SLOTS`] of them).
    pub subnets: Vec<Ipv4Net>,
}

/// Why a layout does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarveError {
    /// A tier's subnets are not smaller than the VPC allows.
    #[error("tier {tier}: /{prefix} subnets must be between /{min} and /28 inside a /{vpc} VPC")]
    BadPrefix {
        /// The tier.
        tier: String,
        /// Its prefix.
        prefix: u8,
        /// The smallest prefix allowed (the VPC's prefix + 3, for 8 AZ slots).
        min: u8,
        /// The VPC's prefix.
        vpc: u8,
    },
    /// The tiers do not all fit.
    #[error("tier {tier}: {slots} subnets of /{prefix} need a /{block} block, and no free one is left in {vpc}")]
    NoRoom {
        /// The tier.
        tier: String,
        /// Its prefix.
        prefix: u8,
        /// The block size needed.
        block: u8,
        /// Subnets per tier.
        slots: u32,
        /// The VPC CIDR.
        vpc: Ipv4Net,
    },
    /// Two tiers share a slot number.
    #[error("tiers {first} and {second} both use slot {slot}")]
    DuplicateSlot {
        /// The first tier.
        first: String,
        /// The second tier.
        second: String,
        /// The slot.
        slot: u8,
    },
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Carves every tier. Tiers are processed in `slot` order.
///
/// # Errors
/// [`CarveError`] naming the tier that does not fit.
pub fn carve(vpc: Ipv4Net, tiers: &[TierLayout]) -> Result<Vec<CarvedTier>, CarveError> {
    let mut ordered: Vec<&TierLayout> = tiers.iter().collect();
    ordered.sort_by_key(|t| t.slot);
    for pair in ordered.windows(2) {
        if pair[0].slot == pair[1].slot {
            return Err(CarveError::DuplicateSlot {
                first: pair[0].name.clone(),
                second: pair[1].name.clone(),
                slot: pair[0].slot,
            });
        }
    }
    let extra_bits = AZ_SLOTS.trailing_zeros() as u8;
    let mut taken: Vec<Ipv4Net> = Vec::new();
    let mut out = Vec::new();
    for tier in ordered {
        let min = vpc.prefix_len() + extra_bits;
        if tier.prefix < min || tier.prefix > 28 {
            return Err(CarveError::BadPrefix {
                tier: tier.name.clone(),
                prefix: tier.prefix,
                min,
                vpc: vpc.prefix_len(),
            });
        }
        let block_len = tier.prefix - extra_bits;
        let block = vpc
            .subnets(block_len)
            .map_err(|_| CarveError::BadPrefix {
                tier: tier.name.clone(),
                prefix: tier.prefix,
                min,
                vpc: vpc.prefix_len(),
            })?
            .find(|candidate| !taken.iter().any(|t| overlaps(t, candidate)))
            .ok_or_else(|| CarveError::NoRoom {
                tier: tier.name.clone(),
                prefix: tier.prefix,
                block: block_len,
                slots: AZ_SLOTS,
                vpc,
            })?;
        taken.push(block);
        let subnets = block
            .subnets(tier.prefix)
            .map(Iterator::collect)
            .unwrap_or_default();
        out.push(CarvedTier {
            name: tier.name.clone(),
            block,
            subnets,
        });
    }
    Ok(out)
}

/// The subnets to create for `az_count` AZs: `(tier, az index, cidr)`, tier by tier.
///
/// # Errors
/// As [`carve`].
pub fn subnets_for(
    vpc: Ipv4Net,
    tiers: &[TierLayout],
    az_count: usize,
) -> Result<Vec<(String, usize, Ipv4Net)>, CarveError> {
    Ok(carve(vpc, tiers)?
        .into_iter()
        .flat_map(|t| {
            let name = t.name;
            t.subnets
                .into_iter()
                .take(az_count)
                .enumerate()
                .map(move |(az, cidr)| (name.clone(), az, cidr))
        })
        .collect())
}

/// The usable size of a subnet (AWS reserves 5 addresses in each).
#[must_use]
pub fn usable_addresses(net: &Ipv4Net) -> u32 {
    (1u32 << (32 - u32::from(net.prefix_len()))).saturating_sub(5)
}

/// `10.0.0.0/16` as an [`Ipv4Net`], for tests and examples.
#[must_use]
pub fn net(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, d), prefix).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tier(name: &str, slot: u8, prefix: u8) -> TierLayout {
        TierLayout {
            name: name.into(),
            slot,
            prefix,
        }
    }

    #[test]
    fn default_layout() {
        let tiers = [
            tier("public", 0, 24),
            tier("private", 1, 20),
            tier("database", 2, 24),
        ];
        let carved = carve(net(10, 0, 0, 0, 16), &tiers).unwrap();
        assert_eq!(carved[0].subnets[0], net(10, 0, 0, 0, 24));
        assert_eq!(carved[0].subnets[2], net(10, 0, 2, 0, 24));
        assert_eq!(carved[1].block, net(10, 0, 128, 0, 17));
        assert_eq!(carved[1].subnets[1], net(10, 0, 144, 0, 20));
        assert_eq!(carved[2].block, net(10, 0, 8, 0, 21));
    }

    #[test]
    fn too_big_tiers_are_rejected_by_name() {
        let tiers = [
            tier("public", 0, 20),
            tier("private", 1, 20),
            tier("database", 2, 24),
        ];
        match carve(net(10, 0, 0, 0, 16), &tiers) {
            Err(CarveError::NoRoom { tier, .. }) => assert_eq!(tier, "database"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            carve(net(10, 0, 0, 0, 16), &[tier("x", 0, 17)]),
            Err(CarveError::BadPrefix { .. })
        ));
        assert!(matches!(
            carve(net(10, 0, 0, 0, 16), &[tier("a", 0, 24), tier("b", 0, 24)]),
            Err(CarveError::DuplicateSlot { .. })
        ));
    }

    fn layout() -> impl Strategy<Value = (Ipv4Net, Vec<TierLayout>)> {
        (16u8..=20, proptest::collection::vec(0u8..=8, 1..5)).prop_map(|(vpc_prefix, sizes)| {
            let vpc = net(10, 0, 0, 0, vpc_prefix);
            let tiers = sizes
                .iter()
                .enumerate()
                .map(|(i, extra)| {
                    tier(
                        &format!("t{i}"),
                        u8::try_from(i).unwrap(),
                        (vpc_prefix + 3 + extra).min(28),
                    )
                })
                .collect();
            (vpc, tiers)
        })
    }

    proptest! {
        #[test]
        fn prop_subnets_are_disjoint_and_inside_the_vpc((vpc, tiers) in layout()) {
            if let Ok(carved) = carve(vpc, &tiers) {
                let all: Vec<Ipv4Net> = carved.iter().flat_map(|t| t.subnets.clone()).collect();
                for (i, a) in all.iter().enumerate() {
                    prop_assert!(vpc.contains(a), "{a} outside {vpc}");
                    for b in &all[i + 1..] {
                        prop_assert!(!overlaps(a, b), "{a} overlaps {b}");
                    }
                }
                for (t, c) in tiers.iter().zip(&carved) {
                    prop_assert_eq!(c.subnets.len(), AZ_SLOTS as usize);
                    prop_assert!(c.subnets.iter().all(|s| s.prefix_len() == t.prefix));
                }
            }
        }

        #[test]
        fn prop_adding_a_tier_moves_nothing((vpc, tiers) in layout(), extra in 0u8..=8) {
            if let Ok(before) = carve(vpc, &tiers) {
                let mut more = tiers.clone();
                more.push(tier("new", 100, (vpc.prefix_len() + 3 + extra).min(28)));
                if let Ok(after) = carve(vpc, &more) {
                    prop_assert_eq!(&after[..before.len()], &before[..]);
                }
            }
        }

        #[test]
        fn prop_az_growth_keeps_existing_subnets((vpc, tiers) in layout(), azs in 1usize..6) {
            if let Ok(before) = subnets_for(vpc, &tiers, azs) {
                let after = subnets_for(vpc, &tiers, azs + 1).unwrap();
                prop_assert_eq!(after.len(), before.len() + tiers.len());
                for subnet in &before {
                    prop_assert!(after.contains(subnet), "{subnet:?} moved when AZ {} was added", azs + 1);
                }
                let new: Vec<_> = after.iter().filter(|s| !before.contains(s)).collect();
                prop_assert!(new.iter().all(|(_, az, _)| *az == azs), "{new:?}");
            }
        }
    }
}
