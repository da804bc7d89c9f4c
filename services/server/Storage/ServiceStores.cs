using EasyIm.Auth.Data;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Database;
using EasyIm.Messaging.Data;

namespace EasyIm.Server.Storage;

/// <summary>
/// The services that keep a database, and how each registers it: what <c>easyim backup</c>, <c>restore</c> and
/// <c>migrate --from</c> read and write. The modules register the same (a test checks that the two lists agree).
/// </summary>
public static class ServiceStores
{
    public sealed record Store(string Service, Action<IHostApplicationBuilder> AddDatabase)
    {
        public string FileName => Service + ".db";
    }

    public static readonly IReadOnlyList<Store> All =
    [
        new(AuthDbContext.Service, b => b.AddServiceDatabase<AuthDbContext, SqliteAuthDbContext, PostgresAuthDbContext>(AuthDbContext.Service)),
        new(FriendsDbContext.Service, b => b.AddServiceDatabase<FriendsDbContext, SqliteFriendsDbContext, PostgresFriendsDbContext>(FriendsDbContext.Service)),
        new(MessagingDbContext.Service, b => b.AddServiceDatabase<MessagingDbContext, SqliteMessagingDbContext, PostgresMessagingDbContext>(MessagingDbContext.Service)),
    ];

    public static Store? Find(string service) => All.FirstOrDefault(s => s.Service == service);

    /// <summary>
    /// A host of only these stores' databases, never started (so it holds no <see cref="DataDirectoryLock"/>
    /// and runs no checkpointer): its contexts and <see cref="IServiceDatabase"/>s, with these settings alone.
    /// </summary>
    public static IHost BuildHost(IEnumerable<Store> stores, IReadOnlyDictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        foreach (var store in stores)
            store.AddDatabase(builder);
        return builder.Build();
    }
}
