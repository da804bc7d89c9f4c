using EasyIm.Hosting.Ids;
using EasyIm.Hosting.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Data;

/// <summary>The friends service's tables. Resolved as this type; built as the provider's subclass below.</summary>
public abstract class FriendsDbContext(DbContextOptions options) : DbContext(options)
{
    public const string Service = "friends";

    public DbSet<User> Users => Set<User>();
    public DbSet<FriendRequest> FriendRequests => Set<FriendRequest>();
    public DbSet<Friendship> Friendships => Set<Friendship>();
    public DbSet<Block> Blocks => Set<Block>();
    public DbSet<Group> Groups => Set<Group>();
    public DbSet<GroupMember> GroupMembers => Set<GroupMember>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.Account).HasMaxLength(64);
            e.Property(x => x.AccountKey).HasMaxLength(64);
            e.Property(x => x.Nickname).HasMaxLength(32);
            e.Property(x => x.NicknameKey).HasMaxLength(32);
            e.Property(x => x.Avatar).HasMaxLength(512);
            // Search is a substring match, which no B-tree serves; this one serves exact account look-ups.
            e.HasIndex(x => x.AccountKey);
        });
        model.Entity<FriendRequest>(e =>
        {
            e.ToTable("friend_requests");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.Message).HasMaxLength(256);
            e.Property(x => x.Status).HasConversion<string>().HasMaxLength(16).IsConcurrencyToken();
            // At most one pending request from A to B, whoever sends it how often: the database says so,
            // not a check-then-insert. Double-quoted identifiers read the same in SQLite and PostgreSQL.
            e.HasIndex(x => new { x.FromUserId, x.ToUserId }).IsUnique().HasFilter("\"Status\" = 'Pending'")
                .HasDatabaseName("IX_friend_requests_pending_pair");
            // Pending requests to a user (the list, and the push on connect).
            e.HasIndex(x => new { x.ToUserId, x.Status, x.CreatedAtMs });
            e.HasIndex(x => x.CommandId).IsUnique();
        });
        model.Entity<Friendship>(e =>
        {
            e.ToTable("friendships");
            e.HasKey(x => new { x.UserId, x.FriendId });
            e.Property(x => x.Remark).HasMaxLength(32);
        });
        model.Entity<Block>(e =>
        {
            e.ToTable("blocks");
            // A user's block list is one key range; "does B block A" one lookup.
            e.HasKey(x => new { x.UserId, x.BlockedId });
        });
        model.Entity<Group>(e =>
        {
            e.ToTable("groups");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.Name).HasMaxLength(64);
            e.Property(x => x.Version).IsConcurrencyToken();
            // Groups made before the column was added get Members (the migration's default): easyim's rule.
            e.Property(x => x.InvitePolicy).HasConversion<string>().HasMaxLength(16);
            e.HasIndex(x => x.CommandId).IsUnique();
        });
        model.Entity<GroupMember>(e =>
        {
            e.ToTable("group_members");
            e.HasKey(x => new { x.GroupId, x.UserId });
            e.Property(x => x.Role).HasMaxLength(16);
            // A user's groups.
            e.HasIndex(x => x.UserId);
        });
        model.AddNodeLeases();
        model.AddOutbox();
    }
}

public sealed class SqliteFriendsDbContext(DbContextOptions<SqliteFriendsDbContext> options) : FriendsDbContext(options);

public sealed class PostgresFriendsDbContext(DbContextOptions<PostgresFriendsDbContext> options) : FriendsDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        model.HasDefaultSchema(Service);
        base.OnModelCreating(model);
    }
}
