using EasyIm.Hosting.Database;

namespace EasyIm.Auth.Data;

internal sealed class SqliteAuthDesignTimeFactory : SqliteDesignTimeFactory<SqliteAuthDbContext>;

internal sealed class PostgresAuthDesignTimeFactory : PostgresDesignTimeFactory<PostgresAuthDbContext>;
