//! Scenario tests: a scripted PBX peer against the client.
