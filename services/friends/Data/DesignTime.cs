using EasyIm.Hosting.Database;

namespace EasyIm.Friends.Data;

internal sealed class SqliteFriendsDesignTimeFactory : SqliteDesignTimeFactory<SqliteFriendsDbContext>;

internal sealed class PostgresFriendsDesignTimeFactory : PostgresDesignTimeFactory<PostgresFriendsDbContext>;
