//! Replication protocol v1.
