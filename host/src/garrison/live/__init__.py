"""Paper and live trading: the exchange layer between ccxt / ccxt.pro and the step processor."""
