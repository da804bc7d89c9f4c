namespace EasyIm.Friends.Data;

/// <summary>Who may invite to a group (stored by name; the API spells them as <c>GroupInvitePolicies</c>).</summary>
public enum GroupInvitePolicy
{
    /// <summary>Every member may invite their friends.</summary>
    Members,
    /// <summary>Only the owner (and the admins, once groups have them) may invite.</summary>
    Admins,
}

public sealed class Group
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public long OwnerId { get; set; }
    public long CreatedAtMs { get; set; }
    /// <summary>Set when the last member left; a dismissed group is gone for every purpose.</summary>
    public long? DismissedAtMs { get; set; }
    /// <summary>The bus message id of the <c>CreateGroup</c> that made it: a redelivery must not make a second group.</summary>
    public Guid? CommandId { get; set; }
    /// <summary>
    /// Bumped by every membership change, as a concurrency token: changes to one group apply one
    /// at a time (an owner leaving while the next owner leaves too, the last member leaving while
    /// someone is invited), the loser is retried on the new state.
    /// </summary>
    public int Version { get; set; }
    public GroupInvitePolicy InvitePolicy { get; set; }
}
