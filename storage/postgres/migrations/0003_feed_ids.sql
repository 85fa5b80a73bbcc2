-- newsbot schema on PostgreSQL, version 3: a feed's id is never given again (the SQLite
-- schema's version 4). An identity column never reuses a value by itself, but a database
-- filled by copy-database from SQLite before this version had its sequence set to the
-- largest id copied, below the ids of feeds removed earlier, which their request keys
-- (feed:ID:ITEM) and their articles' author (feed:ID) still name.

SELECT setval(pg_get_serial_sequence('feeds', 'id'), high)
FROM (
    SELECT GREATEST(
        coalesce(pg_sequence_last_value(pg_get_serial_sequence('feeds', 'id')::regclass), 0),
        coalesce((SELECT max(id) FROM feeds), 0),
        coalesce((
            SELECT max(substring(key FROM '^feed:([0-9]{1,18}):')::bigint)
            FROM requests WHERE key LIKE 'feed:%'
        ), 0),
        coalesce((
            SELECT max(substring(author_user_id FROM '^feed:([0-9]{1,18})$')::bigint)
            FROM articles WHERE author_platform = 'cli' AND author_user_id LIKE 'feed:%'
        ), 0)
    ) AS high
) AS used
WHERE high > 0;
