using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Outbox;

/// <summary>
/// A message a service has decided to publish, stored in the same transaction as the change that caused it,
/// until it has been published: a crash or a broker fault after the commit delays the message, never loses it.
/// </summary>
public sealed class OutboxMessage
{
    public long Id { get; set; }
    /// <summary>The message's type, as <see cref="Type.GetType(string)"/> reads it back.</summary>
    public required string MessageType { get; set; }
    /// <summary>The message as JSON, written with the bus's own serializer options.</summary>
    public required string Payload { get; set; }
    public long CreatedAtMs { get; set; }
    /// <summary>
    /// Until when the row is someone's to publish: first the request that stored it (it publishes right after its
    /// commit), then a relay that claimed it. Past it, a relay may take it.
    /// </summary>
    public long ClaimedUntilMs { get; set; }
    /// <summary>Who claimed it last (a relay's random id), so that a relay publishes only the rows it claimed.</summary>
    public string? ClaimedBy { get; set; }
}

public static class OutboxModel
{
    /// <summary>Adds the outbox table to a service's model.</summary>
    public static ModelBuilder AddOutbox(this ModelBuilder model)
    {
        model.Entity<OutboxMessage>(e =>
        {
            e.ToTable("outbox");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedOnAdd();
            e.Property(x => x.MessageType).HasMaxLength(256);
            e.Property(x => x.ClaimedBy).HasMaxLength(64);
            // The relay's question: which rows are nobody's now, oldest first.
            e.HasIndex(x => x.ClaimedUntilMs);
        });
        return model;
    }

    /// <summary>How a row's message is written; <see cref="Read"/> is its inverse.</summary>
    internal static OutboxMessage Write(object message, Type type, long nowMs, long claimedUntilMs) => new()
    {
        MessageType = $"{type.FullName}, {type.Assembly.GetName().Name}",
        Payload = JsonSerializer.Serialize(message, type, SystemTextJsonMessageSerializer.Options),
        CreatedAtMs = nowMs,
        ClaimedUntilMs = claimedUntilMs,
    };

    internal static (object Message, Type Type) Read(OutboxMessage row)
    {
        var type = Type.GetType(row.MessageType, throwOnError: true)!;
        return (JsonSerializer.Deserialize(row.Payload, type, SystemTextJsonMessageSerializer.Options)!, type);
    }
}

/// <summary>
/// A request's messages to publish. <see cref="Add{T}"/> stores each in the request's DbContext, so it commits
/// with the change; once the change has committed, <see cref="PublishAsync"/> publishes them and deletes their
/// rows. If publishing fails (or the process dies first), the rows stay and an <see cref="OutboxRelay{TContext}"/>
/// publishes them once their claim has run out. Consumers of these messages see each at least once: they must be
/// idempotent (the projections are, by time stamps; pushes may then reach a client twice).
/// </summary>
public sealed class Outbox<TContext>(TContext db, OutboxOptions options, TimeProvider time, ILogger<Outbox<TContext>> logger,
    IEnumerable<IOutboxDelivery>? deliveries = null)
    where TContext : DbContext
{
    private readonly List<(OutboxMessage Row, object Message, Type Type)> _pending = [];

    /// <summary>Stores <paramref name="message"/> with the DbContext's next SaveChanges.</summary>
    public void Add<T>(T message) where T : class
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = OutboxModel.Write(message, typeof(T), now, now + options.ClaimMs);
        db.Set<OutboxMessage>().Add(row);
        _pending.Add((row, message, typeof(T)));
    }

    /// <summary>Forgets what was added and not saved: after a failed SaveChanges whose entities were detached.</summary>
    public void Discard() => _pending.Clear();

    /// <summary>
    /// Publishes what <see cref="Add{T}"/> stored, in order, after the commit, and deletes the rows published.
    /// Never throws for the bus: what it could not publish stays for the relay.
    /// </summary>
    public async Task PublishAsync(IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var published = new List<long>();
        try
        {
            foreach (var (row, message, type) in _pending)
            {
                await OutboxDeliveries.DeliverAsync(deliveries, message, type, publisher, cancellationToken);
                published.Add(row.Id);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not publish {Count} messages after their commit; the outbox relay will", _pending.Count - published.Count);
        }
        finally
        {
            _pending.Clear();
        }
        if (published.Count == 0)
            return;
        try
        {
            await db.Set<OutboxMessage>().Where(m => published.Contains(m.Id)).ExecuteDeleteAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Published but still stored: the relay publishes them again once their claim runs out (at least once).
            logger.LogWarning(ex, "Could not delete {Count} published outbox rows", published.Count);
        }
    }
}

/// <summary>
/// How a kind of outbox message is delivered when publishing it to every subscriber is not the way: a push to users
/// goes to the gateways that hold them (<see cref="Presence.GatewayPushes"/>). Returns false for messages it does not
/// deliver; throws when delivery failed (the row stays for the relay).
/// </summary>
public interface IOutboxDelivery
{
    ValueTask<bool> TryDeliverAsync(object message, IPublishEndpoint publisher, CancellationToken cancellationToken);
}

internal static class OutboxDeliveries
{
    public static async Task DeliverAsync(IEnumerable<IOutboxDelivery>? deliveries, object message, Type type, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        foreach (var delivery in deliveries ?? [])
        {
            if (await delivery.TryDeliverAsync(message, publisher, cancellationToken))
                return;
        }
        await publisher.Publish(message, type, cancellationToken);
    }
}

/// <summary>The outbox's timing (<c>Outbox</c> section, shared by the services that have one).</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>
    /// How long a stored message is its request's to publish before a relay may take it, and how long a relay's
    /// claim lasts: well above a publish's time, so a message is not published twice while its first publish runs.
    /// </summary>
    public int ClaimSeconds { get; set; } = 10;
    /// <summary>How often the relay looks for rows nobody is publishing.</summary>
    public int RelayEveryMs { get; set; } = 1000;
    /// <summary>Most rows the relay claims at once.</summary>
    public int RelayBatch { get; set; } = 200;

    internal long ClaimMs => ClaimSeconds * 1000L;

    public static OutboxOptions Read(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var options = new OutboxOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(Section), options);
        if (options.ClaimSeconds is < 1 or > 3600)
            throw new StartupException($"{Section}:{nameof(ClaimSeconds)} must be from 1 to 3600 seconds, not {options.ClaimSeconds}.");
        if (options.RelayEveryMs is < 10 or > 600_000)
            throw new StartupException($"{Section}:{nameof(RelayEveryMs)} must be from 10 to 600000 ms, not {options.RelayEveryMs}.");
        if (options.RelayBatch is < 1 or > 100_000)
            throw new StartupException($"{Section}:{nameof(RelayBatch)} must be from 1 to 100000, not {options.RelayBatch}.");
        return options;
    }
}
