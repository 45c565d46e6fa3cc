"""``garrison plugins new``: render a plugin distribution of one kind from the templates."""

from garrison.plugins.template.render import KINDS, PluginTemplate, TemplateError, render_plugin

__all__ = ["KINDS", "PluginTemplate", "TemplateError", "render_plugin"]
