"""Results to decisions and documents: statistics, quality gates, HTML/Markdown/JUnit reports."""
