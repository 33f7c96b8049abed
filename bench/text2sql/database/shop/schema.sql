-- A small shop for the text-to-SQL bench: customers place orders of products.
-- bench/text2sql.py builds shop.sqlite from this file when it is missing.

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    signup_date TEXT NOT NULL -- ISO date
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    order_date TEXT NOT NULL, -- ISO date
    status TEXT NOT NULL -- 'shipped', 'pending' or 'cancelled'
);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

INSERT INTO customers VALUES
    (1, 'Alice Martin', 'Paris', 'France', '2023-01-15'),
    (2, 'Bruno Rossi', 'Rome', 'Italy', '2023-02-03'),
    (3, 'Chloe Dubois', 'Lyon', 'France', '2023-03-22'),
    (4, 'David Smith', 'London', 'United Kingdom', '2023-04-10'),
    (5, 'Elena Garcia', 'Madrid', 'Spain', '2023-05-05'),
    (6, 'Farid Haddad', 'Paris', 'France', '2023-06-18'),
    (7, 'Greta Novak', 'Berlin', 'Germany', '2023-07-01'),
    (8, 'Hugo Lefevre', 'Lyon', 'France', '2023-08-30'),
    (9, 'Ines Costa', 'Lisbon', 'Portugal', '2023-09-12'),
    (10, 'Jonas Weber', 'Berlin', 'Germany', '2024-01-20'),
    (11, 'Karin Berg', 'Oslo', 'Norway', '2024-02-14'),
    (12, 'Luca Bianchi', 'Milan', 'Italy', '2024-03-03');

INSERT INTO products VALUES
    (1, 'Espresso Machine', 'Kitchen', 249.0),
    (2, 'Coffee Grinder', 'Kitchen', 89.5),
    (3, 'Chef Knife', 'Kitchen', 59.9),
    (4, 'Desk Lamp', 'Office', 34.0),
    (5, 'Office Chair', 'Office', 189.0),
    (6, 'Notebook', 'Office', 4.5),
    (7, 'Running Shoes', 'Sports', 120.0),
    (8, 'Yoga Mat', 'Sports', 25.0),
    (9, 'Water Bottle', 'Sports', 12.0),
    (10, 'Headphones', 'Electronics', 149.0),
    (11, 'USB Cable', 'Electronics', 9.99),
    (12, 'Smart Watch', 'Electronics', 299.0),
    (13, 'Tablet Stand', 'Electronics', 19.0);

INSERT INTO orders VALUES
    (1, 1, '2024-01-05', 'shipped'),
    (2, 2, '2024-01-09', 'shipped'),
    (3, 1, '2024-02-11', 'shipped'),
    (4, 3, '2024-02-15', 'cancelled'),
    (5, 4, '2024-02-20', 'shipped'),
    (6, 5, '2024-03-02', 'shipped'),
    (7, 6, '2024-03-08', 'pending'),
    (8, 7, '2024-03-15', 'shipped'),
    (9, 2, '2024-04-01', 'shipped'),
    (10, 8, '2024-04-12', 'shipped'),
    (11, 9, '2024-04-25', 'cancelled'),
    (12, 10, '2024-05-03', 'shipped'),
    (13, 1, '2024-05-19', 'pending'),
    (14, 4, '2024-06-07', 'shipped'),
    (15, 7, '2024-06-21', 'shipped'),
    (16, 12, '2024-07-04', 'shipped'),
    (17, 5, '2024-07-30', 'pending'),
    (18, 3, '2024-08-14', 'shipped'),
    (19, 6, '2024-09-09', 'shipped'),
    (20, 10, '2024-10-01', 'cancelled');

INSERT INTO order_items VALUES
    (1, 1, 1, 249.0),
    (1, 2, 1, 89.5),
    (2, 7, 1, 120.0),
    (2, 9, 2, 12.0),
    (3, 6, 10, 4.5),
    (3, 4, 1, 34.0),
    (4, 12, 1, 299.0),
    (5, 10, 1, 149.0),
    (5, 11, 3, 9.99),
    (6, 8, 2, 25.0),
    (6, 9, 1, 12.0),
    (7, 5, 1, 189.0),
    (8, 3, 2, 59.9),
    (8, 2, 1, 89.5),
    (9, 12, 1, 279.0),
    (10, 7, 2, 120.0),
    (11, 6, 5, 4.5),
    (12, 10, 2, 149.0),
    (12, 11, 1, 9.99),
    (13, 1, 1, 239.0),
    (14, 5, 2, 189.0),
    (15, 8, 1, 25.0),
    (15, 7, 1, 120.0),
    (16, 4, 3, 34.0),
    (17, 3, 1, 59.9),
    (18, 9, 4, 12.0),
    (18, 6, 2, 4.5),
    (19, 10, 1, 149.0),
    (20, 2, 1, 89.5);
