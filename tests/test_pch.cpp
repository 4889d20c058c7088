// Compiles the tests' shared precompiled header; intentionally holds no code.
