; Definitions: the @definition node spans the whole construct (its body is elided when rendered).
(class_definition name: (identifier) @name.definition.class) @definition.class
(function_definition name: (identifier) @name.definition.function) @definition.function
(module (expression_statement (assignment left: (identifier) @name.definition.constant) @definition.constant))

; References: calls, attribute access, decorators, base classes, imported names and annotations.
(call function: (identifier) @name.reference.call)
(call function: (attribute attribute: (identifier) @name.reference.call))
(attribute attribute: (identifier) @name.reference.attribute)
(decorator (identifier) @name.reference.call)
(argument_list (identifier) @name.reference.name)
(import_from_statement name: (dotted_name (identifier) @name.reference.import))
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @name.reference.import)))
(type (identifier) @name.reference.type)
(raise_statement (identifier) @name.reference.name)
(except_clause (identifier) @name.reference.type)
