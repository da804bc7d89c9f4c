using EasyIm.Hosting.Ids;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Data;

/// <summary>The messaging service's tables. Resolved as this type; built as the provider's subclass below.</summary>
public abstract class MessagingDbContext(DbContextOptions options) : DbContext(options)
{
    public const string Service = "messaging";

    public DbSet<Message> Messages => Set<Message>();
    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<ConversationCursor> Cursors => Set<ConversationCursor>();
    public DbSet<Friendship> Friendships => Set<Friendship>();
    public DbSet<Block> Blocks => Set<Block>();
    public DbSet<GroupMember> GroupMembers => Set<GroupMember>();
    public DbSet<GroupSettings> Groups => Set<GroupSettings>();
    public DbSet<StreamHead> StreamHeads => Set<StreamHead>();
    public DbSet<StreamEntry> StreamEntries => Set<StreamEntry>();
    public DbSet<StreamEvent> StreamEvents => Set<StreamEvent>();

    /// <summary>Column names are spelled out because <see cref="MessagingSql"/> writes SQL against them.</summary>
    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<Message>(e =>
        {
            e.ToTable("messages");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(x => x.ConversationId).HasColumnName("conversation_id").HasMaxLength(48);
            e.Property(x => x.ConversationSeq).HasColumnName("conversation_seq");
            e.Property(x => x.SenderId).HasColumnName("sender_id");
            e.Property(x => x.ToId).HasColumnName("to_id");
            e.Property(x => x.ClientMsgId).HasColumnName("client_msg_id").HasMaxLength(64);
            e.Property(x => x.ChatType).HasColumnName("chat_type");
            e.Property(x => x.MsgType).HasColumnName("msg_type");
            e.Property(x => x.Content).HasColumnName("content");
            e.Property(x => x.SentAtMs).HasColumnName("sent_at");
            e.Property(x => x.Status).HasColumnName("status");
            e.Property(x => x.ArrivedAtMs).HasColumnName("arrived_at");
            e.Property(x => x.ReadAtMs).HasColumnName("read_at");
            // Order, history pages and sync all read by this index; uniqueness backs gap-free numbering.
            e.HasIndex(x => new { x.ConversationId, x.ConversationSeq }).IsUnique();
            // Idempotent send: a resent client_msg_id finds the original.
            e.HasIndex(x => new { x.SenderId, x.ClientMsgId }).IsUnique();
            // Retention takes the oldest messages of one kind, in batches, without scanning the rest.
            e.HasIndex(x => new { x.ChatType, x.SentAtMs });
        });
        model.Entity<Conversation>(e =>
        {
            e.ToTable("conversations");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").HasMaxLength(48);
            e.Property(x => x.Kind).HasColumnName("kind");
            e.Property(x => x.LastSeq).HasColumnName("last_seq");
            e.Property(x => x.UserA).HasColumnName("user_a");
            e.Property(x => x.UserB).HasColumnName("user_b");
            e.Property(x => x.GroupId).HasColumnName("group_id");
            e.Property(x => x.LastMessageId).HasColumnName("last_message_id");
            e.Property(x => x.LastSentAtMs).HasColumnName("last_sent_at");
            e.Property(x => x.PrunedThroughSeq).HasColumnName("pruned_through_seq");
            e.Property(x => x.OwnStream).HasColumnName("own_stream");
            e.HasIndex(x => x.UserA);
            e.HasIndex(x => x.UserB);
            e.HasIndex(x => x.GroupId);
        });
        model.Entity<ConversationCursor>(e =>
        {
            e.ToTable("cursors");
            e.HasKey(x => new { x.UserId, x.ConversationId });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.ConversationId).HasColumnName("conversation_id").HasMaxLength(48);
            e.Property(x => x.ArrivedSeq).HasColumnName("arrived_seq");
            e.Property(x => x.ReadSeq).HasColumnName("read_seq");
        });
        model.Entity<Friendship>(e =>
        {
            e.ToTable("friendships");
            e.HasKey(x => new { x.UserId, x.FriendId });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.FriendId).HasColumnName("friend_id");
            e.Property(x => x.Active).HasColumnName("active");
            e.Property(x => x.ChangedAtMs).HasColumnName("changed_at");
        });
        model.Entity<Block>(e =>
        {
            e.ToTable("blocks");
            e.HasKey(x => new { x.UserId, x.BlockedId });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.BlockedId).HasColumnName("blocked_id");
            e.Property(x => x.Active).HasColumnName("active");
            e.Property(x => x.ChangedAtMs).HasColumnName("changed_at");
            // "Is any of these senders blocked": the send path asks by the blocked.
            e.HasIndex(x => x.BlockedId);
        });
        model.Entity<GroupMember>(e =>
        {
            e.ToTable("group_members");
            e.HasKey(x => new { x.GroupId, x.UserId });
            e.Property(x => x.GroupId).HasColumnName("group_id");
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Active).HasColumnName("active");
            e.Property(x => x.Role).HasColumnName("role").HasMaxLength(16);
            e.Property(x => x.Muted).HasColumnName("muted");
            e.Property(x => x.ChangedAtMs).HasColumnName("changed_at");
            // A user's groups, for sync and the conversation list.
            e.HasIndex(x => x.UserId);
        });
        model.Entity<GroupSettings>(e =>
        {
            e.ToTable("groups");
            e.HasKey(x => x.GroupId);
            e.Property(x => x.GroupId).HasColumnName("group_id").ValueGeneratedNever();
            e.Property(x => x.Muted).HasColumnName("muted");
        });
        model.Entity<StreamHead>(e =>
        {
            e.ToTable("stream_heads");
            e.HasKey(x => x.UserId);
            e.Property(x => x.UserId).HasColumnName("user_id").ValueGeneratedNever();
            e.Property(x => x.Position).HasColumnName("position");
        });
        model.Entity<StreamEntry>(e =>
        {
            e.ToTable("stream_entries");
            // "After position P" is a range of this key.
            e.HasKey(x => new { x.UserId, x.Position });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Position).HasColumnName("position");
            e.Property(x => x.ConversationId).HasColumnName("conversation_id").HasMaxLength(48);
            e.Property(x => x.SeqFrom).HasColumnName("seq_from");
            e.Property(x => x.SeqTo).HasColumnName("seq_to");
            e.Property(x => x.CreatedAtMs).HasColumnName("created_at");
            // Pruning takes the oldest rows in batches.
            e.HasIndex(x => x.CreatedAtMs);
        });
        model.Entity<StreamEvent>(e =>
        {
            e.ToTable("stream_events");
            e.HasKey(x => new { x.UserId, x.Position });
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Position).HasColumnName("position");
            e.Property(x => x.EventId).HasColumnName("event_id");
            e.Property(x => x.FromUserId).HasColumnName("from_user_id");
            e.Property(x => x.Content).HasColumnName("content");
            e.Property(x => x.CreatedAtMs).HasColumnName("created_at");
            // A repeat publish of an update appends nothing.
            e.HasIndex(x => x.EventId).IsUnique();
            e.HasIndex(x => x.CreatedAtMs);
        });
        model.AddNodeLeases();
    }
}

public sealed class SqliteMessagingDbContext(DbContextOptions<SqliteMessagingDbContext> options) : MessagingDbContext(options);

public sealed class PostgresMessagingDbContext(DbContextOptions<PostgresMessagingDbContext> options) : MessagingDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        model.HasDefaultSchema(Service);
        base.OnModelCreating(model);
    }
}
