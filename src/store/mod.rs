//! Where governance state lives outside the process: the Redis tier.

pub mod redis;
