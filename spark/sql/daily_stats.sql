-- Per category and day: views, carts, purchases, conversion (purchases / views) and top products.
-- Views expected: `events` (client-events) and `products` (products-filtered, raw lake rows).
-- Parameter: ${top_products} (how many product ids to list per category and day).

-- A product's category is the one of its latest listed record: delisting must not erase history.
CREATE OR REPLACE TEMP VIEW catalogue AS
SELECT product_id, category
FROM (
  SELECT CAST(_key AS STRING) AS product_id,
         category,
         row_number() OVER (PARTITION BY CAST(_key AS STRING) ORDER BY _offset DESC, _partition DESC) AS rn
  FROM products
  WHERE NOT _tombstone
)
WHERE rn = 1;

CREATE OR REPLACE TEMP VIEW per_product AS
SELECT coalesce(c.category, 'unknown') AS category,
       to_date(e.ts) AS day,
       e.product_id,
       count_if(e.event_type = 'view') AS views,
       count_if(e.event_type = 'add_to_cart') AS carts,
       count_if(e.event_type = 'purchase') AS purchases
FROM events e
LEFT JOIN catalogue c ON e.product_id = c.product_id
WHERE e.product_id IS NOT NULL
  AND e.event_type IN ('view', 'add_to_cart', 'purchase')
GROUP BY 1, 2, 3;

SELECT category,
       day,
       sum(views) AS views,
       sum(carts) AS carts,
       sum(purchases) AS purchases,
       CASE WHEN sum(views) > 0 THEN CAST(sum(purchases) AS DOUBLE) / sum(views) END AS conversion,
       -- most bought first, then most viewed, then by id so the list is stable
       slice(
         transform(
           array_sort(collect_list(named_struct('p', -purchases, 'v', -views, 'id', product_id))),
           x -> x.id),
         1, ${top_products}) AS top_products
FROM per_product
GROUP BY category, day
ORDER BY day, category
