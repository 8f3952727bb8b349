//! [`Ordinals`]: a set of indices as sorted ranges, so that a million children that succeeded take a
//! few ranges in a checkpoint, not a million entries.

use serde::{Deserialize, Serialize};

/// A set of indices, kept as sorted, disjoint and non-adjacent half-open ranges `[start, end)`;
/// serialised as a list of `[start, end]` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ordinals(Vec<(usize, usize)>);

impl Ordinals {
    /// An empty set.
    pub fn new() -> Ordinals {
        Ordinals::default()
    }

    /// Adds `index`; in-order (or nearly in-order) insertions extend the last ranges.
    pub fn insert(&mut self, index: usize) {
        let ranges = &mut self.0;
        let k = ranges.partition_point(|&(_, end)| end < index);
        match ranges.get(k).copied() {
            Some((start, end)) if start <= index && index < end => {}
            Some((_, end)) if end == index => {
                let joins_next = ranges.get(k + 1).is_some_and(|&(next, _)| next == index + 1);
                if joins_next {
                    ranges[k].1 = ranges[k + 1].1;
                    ranges.remove(k + 1);
                } else {
                    ranges[k].1 = index + 1;
                }
            }
            Some((start, _)) if start == index + 1 => ranges[k].0 = index,
            _ => ranges.insert(k, (index, index + 1)),
        }
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: usize) -> bool {
        let k = self.0.partition_point(|&(_, end)| end <= index);
        self.0.get(k).is_some_and(|&(start, _)| start <= index)
    }

    /// How many indices the set holds.
    pub fn len(&self) -> usize {
        self.0.iter().map(|(start, end)| end - start).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges `[start, end)`, in order.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.0
    }
}

impl FromIterator<usize> for Ordinals {
    fn from_iter<I: IntoIterator<Item = usize>>(indices: I) -> Ordinals {
        let mut set = Ordinals::new();
        for index in indices {
            set.insert(index);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_in_any_order_merge_into_ranges() {
        let set: Ordinals = [5, 0, 2, 1, 7, 6, 9, 3].into_iter().collect();
        assert_eq!(set.ranges(), &[(0, 4), (5, 8), (9, 10)]);
        assert_eq!(set.len(), 8);
        for i in 0..12 {
            assert_eq!(set.contains(i), [0, 1, 2, 3, 5, 6, 7, 9].contains(&i), "{i}");
        }
        let mut set = set;
        set.insert(4);
        set.insert(8);
        set.insert(8);
        assert_eq!(set.ranges(), &[(0, 10)]);
    }

    #[test]
    fn a_million_in_order_take_one_range_and_round_trip() {
        let set: Ordinals = (0..1_000_000).collect();
        assert_eq!(set.ranges(), &[(0, 1_000_000)]);
        let text = serde_json::to_string(&set).expect("serialises");
        assert_eq!(text, "[[0,1000000]]");
        assert_eq!(serde_json::from_str::<Ordinals>(&text).expect("parses"), set);
        assert!(Ordinals::new().is_empty() && !Ordinals::new().contains(0));
    }
}
