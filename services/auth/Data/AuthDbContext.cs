using EasyIm.Hosting.Ids;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Auth.Data;

/// <summary>The auth service's tables. Resolved as this type; built as the provider's subclass below.</summary>
public abstract class AuthDbContext(DbContextOptions options) : DbContext(options)
{
    public const string Service = "auth";

    public DbSet<User> Users => Set<User>();
    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();
    public DbSet<LoginSession> LoginSessions => Set<LoginSession>();
    public DbSet<IssuedRefreshToken> RefreshTokens => Set<IssuedRefreshToken>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.Account).HasMaxLength(64);
            e.Property(x => x.AccountKey).HasMaxLength(64);
            e.HasIndex(x => x.AccountKey).IsUnique();
            e.Property(x => x.Nickname).HasMaxLength(32);
            e.Property(x => x.Avatar).HasMaxLength(512);
            e.Property(x => x.Mobile).HasMaxLength(32);
            e.Property(x => x.Email).HasMaxLength(254);
            e.Property(x => x.PasswordHash).HasMaxLength(256);
        });
        model.Entity<SigningKey>(e =>
        {
            e.ToTable("signing_keys");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
        });
        model.Entity<LoginSession>(e =>
        {
            e.ToTable("login_sessions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasIndex(x => x.ExpiresAtMs);
        });
        model.Entity<IssuedRefreshToken>(e =>
        {
            e.ToTable("refresh_tokens");
            e.HasKey(x => x.TokenHash);
            e.Property(x => x.TokenHash).HasMaxLength(32);
            e.HasIndex(x => x.ExpiresAtMs);
        });
        model.AddNodeLeases();
    }
}

public sealed class SqliteAuthDbContext(DbContextOptions<SqliteAuthDbContext> options) : AuthDbContext(options);

public sealed class PostgresAuthDbContext(DbContextOptions<PostgresAuthDbContext> options) : AuthDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        model.HasDefaultSchema(Service);
        base.OnModelCreating(model);
    }
}
