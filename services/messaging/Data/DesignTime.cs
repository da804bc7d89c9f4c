using EasyIm.Hosting.Database;

namespace EasyIm.Messaging.Data;

internal sealed class SqliteMessagingDesignTimeFactory : SqliteDesignTimeFactory<SqliteMessagingDbContext>;

internal sealed class PostgresMessagingDesignTimeFactory : PostgresDesignTimeFactory<PostgresMessagingDbContext>;
