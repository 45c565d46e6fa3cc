-- The journal schema v1 (garrison 0.1.0), as sqlite-utils created it: the migration test
-- builds a v1 file from it.
CREATE TABLE "runs" (
   "id" TEXT PRIMARY KEY,
   "profile_name" TEXT NOT NULL,
   "mode" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "started_ms" INTEGER NOT NULL,
   "finished_ms" INTEGER,
   "profile_toml" TEXT,
   "summary" TEXT
);
CREATE INDEX "idx_runs_started_ms"
    ON "runs" ("started_ms");
CREATE TABLE "signals" (
   "run_id" TEXT NOT NULL,
   "id" TEXT NOT NULL,
   "strategy" TEXT,
   "symbol" TEXT,
   "ts" INTEGER NOT NULL,
   "side" TEXT,
   "kind" TEXT,
   "entry" REAL,
   "stop" REAL,
   "take_profit" REAL,
   "reason" TEXT,
   "features" TEXT,
   "bracket_from_fill" INTEGER,
   PRIMARY KEY ("run_id", "id")
);
CREATE TABLE "scores" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "signal_id" TEXT,
   "scorer" TEXT,
   "value" REAL,
   "model" TEXT,
   "details" TEXT,
   "mode" TEXT,
   "passed" INTEGER
);
CREATE INDEX "idx_scores_run_id_signal_id"
    ON "scores" ("run_id", "signal_id");
CREATE TABLE "vetoes" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "intent_id" TEXT,
   "stage" TEXT,
   "reason" TEXT,
   "halt" INTEGER,
   "halt_until" INTEGER
);
CREATE INDEX "idx_vetoes_run_id_intent_id"
    ON "vetoes" ("run_id", "intent_id");
CREATE TABLE "intents" (
   "run_id" TEXT NOT NULL,
   "id" TEXT NOT NULL,
   "ts" INTEGER NOT NULL,
   "symbol" TEXT,
   "side" TEXT,
   "reduce_only" INTEGER,
   "qty" REAL,
   "price" REAL,
   "stop" REAL,
   "take_profit" REAL,
   "order_type" TEXT,
   "strategy" TEXT,
   "signal_id" TEXT,
   "market" TEXT,
   "approved" INTEGER,
   PRIMARY KEY ("run_id", "id")
);
CREATE TABLE "orders" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "id" TEXT,
   "intent_id" TEXT,
   "client_order_id" TEXT,
   "ts" INTEGER,
   "symbol" TEXT,
   "side" TEXT,
   "reduce_only" INTEGER,
   "qty" REAL,
   "order_type" TEXT,
   "status" TEXT,
   "price" REAL
);
CREATE INDEX "idx_orders_run_id_id"
    ON "orders" ("run_id", "id");
CREATE TABLE "fills" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "order_id" TEXT,
   "intent_id" TEXT,
   "ts" INTEGER,
   "symbol" TEXT,
   "side" TEXT,
   "reduce_only" INTEGER,
   "qty" REAL,
   "price" REAL,
   "fee" REAL,
   "reason" TEXT
);
CREATE INDEX "idx_fills_run_id_order_id"
    ON "fills" ("run_id", "order_id");
CREATE TABLE "positions" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "ts" INTEGER,
   "action" TEXT,
   "symbol" TEXT,
   "side" TEXT,
   "qty" REAL,
   "entry_price" REAL,
   "entry_ts" INTEGER,
   "stop" REAL,
   "take_profit" REAL,
   "strategy" TEXT,
   "intent_id" TEXT
);
CREATE INDEX "idx_positions_run_id_symbol"
    ON "positions" ("run_id", "symbol");
CREATE TABLE "trades" (
   "run_id" TEXT NOT NULL,
   "id" TEXT NOT NULL,
   "symbol" TEXT,
   "side" TEXT,
   "qty" REAL,
   "entry_ts" INTEGER,
   "entry_price" REAL,
   "exit_ts" INTEGER,
   "exit_price" REAL,
   "exit_reason" TEXT,
   "pnl" REAL,
   "fees" REAL,
   "r_multiple" REAL,
   "strategy" TEXT,
   PRIMARY KEY ("run_id", "id")
);
CREATE TABLE "phantoms" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "signal_id" TEXT,
   "strategy" TEXT,
   "symbol" TEXT,
   "side" TEXT,
   "signal_ts" INTEGER,
   "r_multiple" REAL,
   "exit_reason" TEXT,
   "closed_ts" INTEGER,
   "phantom" INTEGER
);
CREATE INDEX "idx_phantoms_run_id_signal_id"
    ON "phantoms" ("run_id", "signal_id");
CREATE TABLE "equity" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "ts" INTEGER,
   "balance" REAL,
   "equity" REAL,
   "open_positions" INTEGER
);
CREATE INDEX "idx_equity_run_id_ts"
    ON "equity" ("run_id", "ts");
CREATE TABLE "events" (
   "seq" INTEGER PRIMARY KEY,
   "run_id" TEXT NOT NULL,
   "ts" INTEGER,
   "kind" TEXT,
   "level" TEXT,
   "source" TEXT,
   "message" TEXT,
   "data" TEXT
);
CREATE INDEX "idx_events_run_id_ts"
    ON "events" ("run_id", "ts");
CREATE TABLE "candles" (
   "exchange" TEXT NOT NULL,
   "symbol" TEXT NOT NULL,
   "timeframe" TEXT NOT NULL,
   "ts" INTEGER NOT NULL,
   "open" REAL,
   "high" REAL,
   "low" REAL,
   "close" REAL,
   "volume" REAL,
   PRIMARY KEY ("exchange", "symbol", "timeframe", "ts")
);
CREATE TABLE "kv" (
   "namespace" TEXT NOT NULL,
   "key" TEXT NOT NULL,
   "value" TEXT NOT NULL,
   PRIMARY KEY ("namespace", "key")
);
CREATE TABLE "schema_version" (
   "version" INTEGER PRIMARY KEY,
   "applied_ms" INTEGER
);
