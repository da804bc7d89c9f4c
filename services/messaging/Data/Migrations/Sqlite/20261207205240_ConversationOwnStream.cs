using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ConversationOwnStream : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "own_stream",
                table: "conversations",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            // Groups that had messages stored without positions before the mark existed: those above the default
            // Messaging:StreamMaxGroupMembers (100) now (a group's size at each message was not recorded).
            migrationBuilder.Sql(
                "UPDATE conversations SET own_stream = 1 WHERE kind = 1 AND " +
                "(SELECT COUNT(*) FROM group_members m WHERE m.group_id = conversations.group_id AND m.active) > 100");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "own_stream",
                table: "conversations");
        }
    }
}
