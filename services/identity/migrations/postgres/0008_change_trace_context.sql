-- The W3C `traceparent` of the request that wrote each change (NULL when
-- that request was not traced), so that a follower of the change stream can
-- continue the writer's trace.
ALTER TABLE changes ADD COLUMN trace_context TEXT;
