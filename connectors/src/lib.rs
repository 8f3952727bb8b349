//! Legion's connections to the outside world, each behind one of the engine's traits.
