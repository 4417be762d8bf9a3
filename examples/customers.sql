-- The table credit-tiers.yaml reads and writes (SQLite and PostgreSQL).
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    income NUMERIC NOT NULL,
    debts NUMERIC NOT NULL,
    late_payments INTEGER NOT NULL,
    tier TEXT
);
INSERT INTO customers (id, name, income, debts, late_payments) VALUES
    (1, 'Ada', 90000, 9000, 0),
    (2, 'Grace', 60000, 20000, 1),
    (3, 'Alan', 40000, 22000, 2),
    (4, 'Edsger', 30000, 25000, 5);
