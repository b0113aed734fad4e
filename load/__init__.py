"""Load experiments: Locust profiles, an interleaved A/B runner, analysis with exact CIs."""
