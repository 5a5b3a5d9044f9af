"""The benchmarks of `make bench`, one module each: ``run(ctx: BenchContext) -> dict`` measures one
thing and returns its part of ``bench.json`` (``sections.<name>``); item-level misses go under
``misses`` so a failing target can be diagnosed. The context (bench/context.py) holds the options and
the knowledge bases several sections share, each built once per run; bench/common.py the timers,
percentiles, data loading and scoring; bench/run.py picks the sections, runs them in order and writes
the report (targets and table: bench/report.py).

  cmrc         CMRC-2018 retrieval hit@k / MRR, against the llama-index peer; jieba vs rjieba
  fusion       dense-weight sweeps (hash, word vectors, MiniLM) on CMRC and the domain set (slow)
  law          law clause lookup over corpus/laws, with and without the clause locator
  domain       domain QA source hit@5 over corpus/seeds, per question type, and the probe set
  ingest       the laws ingest: seconds, chars/s, stage breakdown, peak RSS
  latency      retrieval p50/p95 on the laws index, lexical rebuild time, serving RSS
  concurrency  answers/s with 4 client threads; retrieval latency while an ingest runs
  recovery     rerun after SIGKILL mid-ingest, then `kb doctor`
  realdocs     real 公文 / law / report files (bench/realdocs.py)
  load         a served instance under API and web-UI load (bench/load.py)
"""
