"""Pure maths, arrays in and arrays out (docs/maths.md): divergences, acceptance functions, MCMC steps, the adaptive truncation's mixture, the metrics and the cost unit."""
