/**
 * Trellis's extension to the dialect's proxy and Write API: a header naming a connection the
 * project owns (a Connectors API connector, by its id) instead of an installation. A customer's
 * connection is reached through its installation only.
 */
export const CONNECTION_HEADER = 'x-trellis-connection-id';
