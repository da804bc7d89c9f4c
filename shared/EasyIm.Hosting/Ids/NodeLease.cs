using Microsoft.EntityFrameworkCore;

namespace EasyIm.Hosting.Ids;

/// <summary>A row per snowflake node id in use by a running replica of a service.</summary>
public sealed class NodeLease
{
    public int NodeId { get; set; }
    public required string Holder { get; set; }
    public long ExpiresAtMs { get; set; }
}

public static class NodeLeaseModel
{
    /// <summary>Adds the node lease table to a service's model; every service that makes ids calls it.</summary>
    public static ModelBuilder AddNodeLeases(this ModelBuilder model)
    {
        model.Entity<NodeLease>(e =>
        {
            e.ToTable("node_leases");
            e.HasKey(x => x.NodeId);
            e.Property(x => x.NodeId).ValueGeneratedNever();
            e.Property(x => x.Holder).HasMaxLength(64);
        });
        return model;
    }
}
